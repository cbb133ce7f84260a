
/*
 * The input format the two normalizer fuzzers share: 2 bytes of big-endian
 * selector v, then the upstream body.  The HTTP status is 100 + v % 500;
 * v / 500 picks the Content-Type (bits 0-1), the request's pinId (bit 2)
 * and whether the configured status map below is used (bit 3).
 */


#ifndef _NGX_HTTP_TFA_RESEND_FUZZ_ANSWER_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_FUZZ_ANSWER_H_INCLUDED_


#include <stdint.h>
#include <string.h>

#include "ngx_http_tfa_resend_normalize.h"
#include "fuzz_assert.h"


static const char  *fuzz_content_types[] = {
    NULL,
    "application/json",
    "text/plain; charset=utf-8",
    "text/html",
};


/* one exact row, a case-sensitive and a caseless pattern */

static ngx_http_tfa_resend_status_map_t *
fuzz_status_map(void)
{
    char                               err[256];
    ngx_http_tfa_resend_status_map_t  *map;

    map = ngx_http_tfa_resend_status_map_create();
    fuzz_assert(map != NULL);

    fuzz_assert(ngx_http_tfa_resend_status_map_add(map,
                    (const unsigned char *) "queued", 6,
                    (const unsigned char *) "PROCESSING", 10,
                    err, sizeof(err)) == 0);
    fuzz_assert(ngx_http_tfa_resend_status_map_add(map,
                    (const unsigned char *) "~^X(.*)Y$", 9,
                    (const unsigned char *) "ERROR", 5,
                    err, sizeof(err)) == 0);
    fuzz_assert(ngx_http_tfa_resend_status_map_add(map,
                    (const unsigned char *) "~*busy", 6,
                    (const unsigned char *) "ERROR_USER_BUSY", 15,
                    err, sizeof(err)) == 0);

    return map;
}


/* fills in from data (size >= 2); returns the selector's v / 500 */

static unsigned
fuzz_answer(const uint8_t *data, size_t size,
    ngx_http_tfa_resend_status_map_t *map, ngx_http_tfa_resend_answer_t *in)
{
    unsigned  v, sel;

    v = (data[0] << 8) | data[1];
    sel = v / 500;

    memset(in, 0, sizeof(ngx_http_tfa_resend_answer_t));
    in->status = 100 + v % 500;
    in->body = data + 2;
    in->body_len = size - 2;
    in->content_type = (const unsigned char *) fuzz_content_types[sel % 4];
    in->content_type_len = in->content_type
                           ? strlen((const char *) in->content_type) : 0;

    if (sel & 4) {
        in->pin_id = (const unsigned char *)
                         "9C817C6F8AF3D48F9FE553282AFA2B67";
        in->pin_id_len = 32;
    }

    in->map = (sel & 8) ? map : NULL;

    return sel;
}


#endif /* _NGX_HTTP_TFA_RESEND_FUZZ_ANSWER_H_INCLUDED_ */
