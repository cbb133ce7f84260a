
/*
 * The canonical resend response builder: its entry points.  No nginx
 * headers here (see the header); the contract is docs/canonical-response.md.
 *
 * It runs on every answer, so it is written to be cheap: the common
 * success answer is read by a strict scanner instead of a jansson tree
 * (anything it is not sure of goes to jansson, the parser of record);
 * jansson parses into a per-call arena; and the canonical body is written
 * directly, once, into one block from the caller's allocator (the filter's
 * request pool): of the exact size for an error answer, with room for the
 * worst case of its two short strings for a success.
 */


#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "ngx_http_tfa_resend_normalize.h"
#include "ngx_http_tfa_resend_arena.h"
#include "ngx_http_tfa_resend_json.h"
#include "ngx_http_tfa_resend_upstream.h"


int
ngx_http_tfa_resend_normalize(const ngx_http_tfa_resend_answer_t *in,
    ngx_http_tfa_resend_canonical_t *out)
{
    int  rc;

    rc = ngx_http_tfa_resend_normalize_fast(in, out);

    if (rc != 1) {
        return rc;
    }

    return ngx_http_tfa_resend_normalize_jansson(in, out);
}


int
ngx_http_tfa_resend_normalize_jansson(const ngx_http_tfa_resend_answer_t *in,
    ngx_http_tfa_resend_canonical_t *out)
{
    int                                 rc;
    json_t                             *root, *obj;
    const char                         *text;
    json_error_t                        error;
    ngx_http_tfa_resend_alloc_funcs_t   saved;

    memset(out, 0, sizeof(ngx_http_tfa_resend_canonical_t));

    ngx_http_tfa_resend_arena_enter(&saved);

    /*
     * JSON_DECODE_ANY: a scalar is reported as "not a JSON object", not as
     * invalid JSON.  JSON_ALLOW_NUL: "\u0000" is valid JSON; the strings are
     * handled with their lengths and written escaped again.
     */

    root = NULL;

    if (in->body_len) {
        root = json_loadb((const char *) in->body, in->body_len,
                          JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
    }

    obj = json_is_object(root) ? root : NULL;

    if (in->status >= 400) {
        rc = ngx_http_tfa_resend_upstream_error(in, obj, out);
        goto done;
    }

    if (obj == NULL) {
        if (in->body_len == 0) {
            text = "upstream answer is empty";

        } else if (root == NULL) {
            text = "upstream answer is not valid JSON";

        } else {
            text = "upstream answer is not a JSON object";
        }

        rc = ngx_http_tfa_resend_canonical_error(502, in->pin_id,
                                                 in->pin_id_len,
                                                 "UPSTREAM_ERROR", text,
                                                 "ERROR", in->allocator, out);
        goto done;
    }

    rc = ngx_http_tfa_resend_upstream_success(in, obj, out);

done:

    json_decref(root);

    ngx_http_tfa_resend_arena_leave(&saved);

    return rc;
}


/*
 * The fast path: the success answer as the API sends it, a flat object of
 * strings, read by ngx_http_tfa_resend_scan() without building a tree.
 * What it reads must be what jansson would have read; the rest is as in
 * ngx_http_tfa_resend_normalize_jansson().
 */

int
ngx_http_tfa_resend_normalize_fast(const ngx_http_tfa_resend_answer_t *in,
    ngx_http_tfa_resend_canonical_t *out)
{
    ngx_http_tfa_resend_parts_t   p;
    ngx_http_tfa_resend_field_t   f[NGX_HTTP_TFA_RESEND_FIELD_COUNT], *v;

    if (in->status >= 400
        || in->body_len == 0
        || !ngx_http_tfa_resend_scan(in->body, in->body_len, f))
    {
        return 1;
    }

    memset(&p, 0, sizeof(ngx_http_tfa_resend_parts_t));

    p.status = in->status;

    /* "callStatus", or "status" when "callStatus" is absent or null */

    v = &f[NGX_HTTP_TFA_RESEND_FIELD_CALL_STATUS];

    if (v->type == NGX_HTTP_TFA_RESEND_JSON_ABSENT
        || v->type == NGX_HTTP_TFA_RESEND_JSON_NULL)
    {
        v = &f[NGX_HTTP_TFA_RESEND_FIELD_STATUS];
    }

    if (v->type == NGX_HTTP_TFA_RESEND_JSON_STRING) {
        p.call_status = ngx_http_tfa_resend_map_status(in->map, v->data,
                                                       v->len);
    } else {
        p.call_status = "UNDEFINED";
    }

    v = &f[NGX_HTTP_TFA_RESEND_FIELD_TO];

    if (v->type == NGX_HTTP_TFA_RESEND_JSON_STRING) {
        p.to.data = v->data;
        p.to.len = v->len;
    }

    v = &f[NGX_HTTP_TFA_RESEND_FIELD_PIN_ID];

    if (v->type == NGX_HTTP_TFA_RESEND_JSON_STRING) {
        ngx_http_tfa_resend_upstream_pin(v->data, v->len, in, &p.pin_id);

    } else {
        ngx_http_tfa_resend_upstream_pin(NULL, 0, in, &p.pin_id);
    }

    return ngx_http_tfa_resend_json_emit(&p, in->allocator, out);
}


int
ngx_http_tfa_resend_canonical_error(int status, const unsigned char *pin_id,
    size_t pin_id_len, const char *message_id, const char *text,
    const char *call_status, const ngx_http_tfa_resend_allocator_t *allocator,
    ngx_http_tfa_resend_canonical_t *out)
{
    size_t                        mid_len;
    const char                   *cs;
    ngx_http_tfa_resend_parts_t   p;

    if (message_id == NULL) {
        message_id = ngx_http_tfa_resend_status_message_id(status);
    }

    mid_len = strlen(message_id);

    if (text == NULL) {
        text = ngx_http_tfa_resend_default_text(status,
                                      (const unsigned char *) message_id,
                                      mid_len);
    }

    cs = NULL;

    if (call_status) {
        /* the static copy, so that out->call_status outlives the caller's */

        cs = ngx_http_tfa_resend_call_status_lookup(
                 (const unsigned char *) call_status, strlen(call_status));
    }

    if (cs == NULL) {
        cs = ngx_http_tfa_resend_error_call_status(status,
                                      (const unsigned char *) message_id,
                                      mid_len);
    }

    memset(&p, 0, sizeof(ngx_http_tfa_resend_parts_t));

    p.status = status;
    p.pin_id.data = pin_id;
    p.pin_id.len = pin_id ? pin_id_len : 0;
    p.call_status = cs;
    p.message_id.data = (const unsigned char *) message_id;
    p.message_id.len = mid_len;
    p.text.data = (const unsigned char *) text;
    p.text.len = strlen(text);

    return ngx_http_tfa_resend_json_emit(&p, allocator, out);
}


void
ngx_http_tfa_resend_canonical_free(ngx_http_tfa_resend_canonical_t *c)
{
    if (c == NULL) {
        return;
    }

    if (c->malloced) {
        free(c->body);
    }

    memset(c, 0, sizeof(ngx_http_tfa_resend_canonical_t));
}
