
/*
 * The JSON writer of the canonical body: see ngx_http_tfa_resend_json.c.
 * Plain C over jansson, no nginx headers.
 */


#ifndef _NGX_HTTP_TFA_RESEND_JSON_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_JSON_H_INCLUDED_


#include <stddef.h>
#include <jansson.h>

#include "ngx_http_tfa_resend_answer.h"


typedef struct {
    const unsigned char            *data;    /* NULL: JSON null */
    size_t                          len;
} ngx_http_tfa_resend_str_t;


/* what goes into a canonical body, pointing into the input */

typedef struct {
    int                             status;
    ngx_http_tfa_resend_str_t       pin_id;
    ngx_http_tfa_resend_str_t       to;
    const char                     *call_status;
    ngx_http_tfa_resend_str_t       message_id;     /* status >= 400 */
    ngx_http_tfa_resend_str_t       text;           /* status >= 400 */
    json_t                         *validation_errors;  /* or NULL */
    size_t                          validation_errors_len;
} ngx_http_tfa_resend_parts_t;


/*
 * Allocates once (the body, its NUL, and for an error the messageId copy
 * after it) and writes.  Returns 0, or -1 with out empty.
 */
int ngx_http_tfa_resend_json_emit(ngx_http_tfa_resend_parts_t *p,
    const ngx_http_tfa_resend_allocator_t *allocator,
    ngx_http_tfa_resend_canonical_t *out);


#endif /* _NGX_HTTP_TFA_RESEND_JSON_H_INCLUDED_ */
