
/*
 * libFuzzer target for the canonical response builder.  Input: as
 * fuzz_answer.h says (a 2-byte selector of status, Content-Type, pinId and
 * status map, then the upstream body).  Every output must be the canonical
 * shape.
 */


#include <stdint.h>
#include <string.h>
#include <jansson.h>

#include "ngx_http_tfa_resend_normalize.h"
#include "fuzz_assert.h"
#include "fuzz_answer.h"


static ngx_http_tfa_resend_status_map_t  *map;

static void
check_canonical(const ngx_http_tfa_resend_canonical_t *c, int status)
{
    void               *iter;
    size_t              n;
    json_t             *root, *v, *se;
    const char         *key;
    json_error_t        error;
    static const char  *keys[] = { "pinId", "to", "callStatus",
                                   "requestError" };

    fuzz_assert(c->body != NULL && c->body_len == strlen(c->body));
    fuzz_assert(c->status == status || c->status == 502);
    fuzz_assert(ngx_http_tfa_resend_call_status_lookup(
                    (const unsigned char *) c->call_status,
                    strlen(c->call_status)) != NULL);

    /* valid UTF-8 JSON: jansson checks both */

    root = json_loadb(c->body, c->body_len, JSON_ALLOW_NUL, &error);
    fuzz_assert(json_is_object(root));

    n = 0;

    for (iter = json_object_iter(root); iter;
         iter = json_object_iter_next(root, iter))
    {
        key = json_object_iter_key(iter);
        fuzz_assert(n < 4 && strcmp(key, keys[n]) == 0);
        n++;
    }

    fuzz_assert(n == (c->status >= 400 ? 4u : 3u));

    v = json_object_get(root, "pinId");
    fuzz_assert(json_is_string(v) || json_is_null(v));
    v = json_object_get(root, "to");
    fuzz_assert(json_is_string(v) || json_is_null(v));
    v = json_object_get(root, "callStatus");
    fuzz_assert(json_is_string(v)
                && strcmp(json_string_value(v), c->call_status) == 0);

    if (c->status >= 400) {
        se = json_object_get(json_object_get(root, "requestError"),
                             "serviceException");
        fuzz_assert(json_is_object(se));
        fuzz_assert(json_is_string(json_object_get(se, "messageId")));
        fuzz_assert(json_is_string(json_object_get(se, "text")));
        fuzz_assert(json_object_size(se) <= 3);
        fuzz_assert(c->message_id != NULL);

    } else {
        fuzz_assert(c->message_id == NULL);
    }

    json_decref(root);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                               status;
    const char                       *cs;
    ngx_http_tfa_resend_answer_t      in;
    ngx_http_tfa_resend_canonical_t   out;

    if (map == NULL) {
        map = fuzz_status_map();
    }

    if (size < 2) {
        return 0;
    }

    (void) fuzz_answer(data, size, map, &in);
    status = in.status;

    fuzz_assert(ngx_http_tfa_resend_normalize(&in, &out) == 0);
    check_canonical(&out, status);
    ngx_http_tfa_resend_canonical_free(&out);

    /* the same bytes as a status value, and as a gateway error's strings */

    cs = ngx_http_tfa_resend_map_status(map, data + 2, size - 2);
    fuzz_assert(ngx_http_tfa_resend_call_status_lookup(
                    (const unsigned char *) cs, strlen(cs)) != NULL);

    fuzz_assert(ngx_http_tfa_resend_canonical_error(status, data + 2,
                    size - 2, NULL, NULL, NULL, NULL, &out) == 0);
    check_canonical(&out, status);
    ngx_http_tfa_resend_canonical_free(&out);

    return 0;
}
