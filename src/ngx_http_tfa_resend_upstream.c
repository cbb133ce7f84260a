
/*
 * The reader of upstream answers once jansson has parsed them: where the
 * status is, which of the error shapes the body has, and the plain-text
 * error body.  No nginx headers (see ngx_http_tfa_resend_normalize.h).
 */


#include <string.h>
#include <jansson.h>

#include "ngx_http_tfa_resend_utf8.h"
#include "ngx_http_tfa_resend_status.h"
#include "ngx_http_tfa_resend_json.h"
#include "ngx_http_tfa_resend_upstream.h"


/* plain text made valid UTF-8: an invalid byte becomes 3 (U+FFFD) */
#define NGX_HTTP_TFA_RESEND_PLAIN_TEXT_BUF                                   \
    (3 * NGX_HTTP_TFA_RESEND_PLAIN_TEXT_MAX)


static size_t ngx_http_tfa_resend_plain_text(unsigned char *buf,
    const unsigned char *s, size_t len);
static int ngx_http_tfa_resend_is_text_plain(const unsigned char *s,
    size_t len);
static int ngx_http_tfa_resend_get_string(json_t *obj, const char *key,
    const unsigned char **s, size_t *len);
static int ngx_http_tfa_resend_upstream_status(json_t *obj,
    const unsigned char **s, size_t *len);


/*
 * A plain-text upstream body made fit for "text" into buf (3 * len bytes
 * at most): valid UTF-8, an invalid byte becoming U+FFFD; C0/C1 control
 * characters and DEL dropped, except that a tab or line break becomes one
 * space so that words on separate lines stay apart; runs of spaces
 * collapsed; trimmed.
 */

static size_t
ngx_http_tfa_resend_plain_text(unsigned char *buf, const unsigned char *s,
    size_t len)
{
    size_t          i, n;
    unsigned        cp;
    unsigned char  *d;

    d = buf;

    for (i = 0; i < len; i += n) {
        n = ngx_http_tfa_resend_utf8_char(s + i, len - i, &cp);

        if (n == 0) {
            n = 1;
            *d++ = 0xef; *d++ = 0xbf; *d++ = 0xbd;
            continue;
        }

        if (cp == '\t' || cp == '\n' || cp == '\r' || cp == ' ') {
            if (d > buf && d[-1] != ' ') {
                *d++ = ' ';
            }

            continue;
        }

        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
            continue;
        }

        memcpy(d, s + i, n);
        d += n;
    }

    if (d > buf && d[-1] == ' ') {
        d--;
    }

    return d - buf;
}


static int
ngx_http_tfa_resend_is_text_plain(const unsigned char *s, size_t len)
{
    static const char  type[] = "text/plain";
    size_t             n;

    n = sizeof(type) - 1;

    ngx_http_tfa_resend_trim(&s, &len);

    if (!ngx_http_tfa_resend_ci_find(s, len, type, 0)) {
        return 0;
    }

    return len == n || s[n] == ';' || s[n] == ' ' || s[n] == '\t';
}


/* 1 and the string if obj[key] is a string, else 0 */

static int
ngx_http_tfa_resend_get_string(json_t *obj, const char *key,
    const unsigned char **s, size_t *len)
{
    json_t  *v;

    v = json_object_get(obj, key);

    if (!json_is_string(v)) {
        return 0;
    }

    *s = (const unsigned char *) json_string_value(v);
    *len = json_string_length(v);

    return 1;
}


/*
 * Rule 1 of "Reading the upstream status": "callStatus", or "status" when
 * "callStatus" is absent or null; a string as is, an object by its "name"
 * when that is a string with something in it, else by its "groupName".
 * Returns 1 with the string, or 0 when the answer carries no status string.
 */

static int
ngx_http_tfa_resend_upstream_status(json_t *obj, const unsigned char **s,
    size_t *len)
{
    json_t  *v;

    v = json_object_get(obj, "callStatus");

    if (v == NULL || json_is_null(v)) {
        v = json_object_get(obj, "status");
    }

    if (json_is_string(v)) {
        *s = (const unsigned char *) json_string_value(v);
        *len = json_string_length(v);
        return 1;
    }

    if (!json_is_object(v)) {
        return 0;
    }

    if (ngx_http_tfa_resend_get_string(v, "name", s, len)) {
        ngx_http_tfa_resend_trim(s, len);

        if (*len) {
            return 1;
        }
    }

    return ngx_http_tfa_resend_get_string(v, "groupName", s, len);
}


/* the upstream's pinId if a non-empty string, else the request's, else null */

void
ngx_http_tfa_resend_upstream_pin(const unsigned char *s, size_t len,
    const ngx_http_tfa_resend_answer_t *in, ngx_http_tfa_resend_str_t *pin)
{
    if (s && len) {
        pin->data = s;
        pin->len = len;

    } else {
        pin->data = in->pin_id;
        pin->len = in->pin_id ? in->pin_id_len : 0;
    }
}


/* a success answer (status < 400) that is a JSON object */

int
ngx_http_tfa_resend_upstream_success(const ngx_http_tfa_resend_answer_t *in,
    json_t *obj, ngx_http_tfa_resend_canonical_t *out)
{
    size_t                        len;
    const unsigned char          *s;
    ngx_http_tfa_resend_parts_t   p;

    memset(&p, 0, sizeof(ngx_http_tfa_resend_parts_t));

    p.status = in->status;

    if (ngx_http_tfa_resend_upstream_status(obj, &s, &len)) {
        p.call_status = ngx_http_tfa_resend_map_status(in->map, s, len);

    } else {
        p.call_status = "UNDEFINED";
    }

    if (ngx_http_tfa_resend_get_string(obj, "to", &s, &len)) {
        p.to.data = s;
        p.to.len = len;
    }

    if (ngx_http_tfa_resend_get_string(obj, "pinId", &s, &len)) {
        ngx_http_tfa_resend_upstream_pin(s, len, in, &p.pin_id);

    } else {
        ngx_http_tfa_resend_upstream_pin(NULL, 0, in, &p.pin_id);
    }

    return ngx_http_tfa_resend_json_emit(&p, in->allocator, out);
}


/* an error answer (status >= 400): keep the status, canonicalize the body */

int
ngx_http_tfa_resend_upstream_error(const ngx_http_tfa_resend_answer_t *in,
    json_t *obj, ngx_http_tfa_resend_canonical_t *out)
{
    int                           has_status;
    size_t                        mid_len, text_len, status_len, len;
    json_t                       *se, *ve;
    const char                   *code;
    unsigned char                 plain[NGX_HTTP_TFA_RESEND_PLAIN_TEXT_BUF];
    const unsigned char          *mid, *text, *status, *s;
    ngx_http_tfa_resend_parts_t   p;

    mid = NULL;
    mid_len = 0;
    text = NULL;
    text_len = 0;
    ve = NULL;
    has_status = 0;
    status = NULL;
    status_len = 0;

    memset(&p, 0, sizeof(ngx_http_tfa_resend_parts_t));

    if (obj) {
        /* a blank status is no status: the error rules decide instead */

        has_status = ngx_http_tfa_resend_upstream_status(obj, &status,
                                                         &status_len);
        if (has_status) {
            ngx_http_tfa_resend_trim(&status, &status_len);
            has_status = (status_len != 0);
        }

        se = json_object_get(json_object_get(obj, "requestError"),
                             "serviceException");

        if (json_is_object(se)) {
            /* the 2FA API's own error object */

            if (ngx_http_tfa_resend_get_string(se, "messageId", &s, &len)
                && len)
            {
                mid = s;
                mid_len = len;
            }

            if (ngx_http_tfa_resend_get_string(se, "text", &s, &len)) {
                text = s;
                text_len = len;
            }

            ve = json_object_get(se, "validationErrors");

            if (json_is_null(ve)) {
                ve = NULL;
            }

        } else if (ngx_http_tfa_resend_get_string(obj, "errorCode", &s, &len)
                   && len)
        {
            /* the newer {"errorCode":"E404","description":"..."} shape */

            code = ngx_http_tfa_resend_error_code_message_id(s, len);

            if (code) {
                mid = (const unsigned char *) code;
                mid_len = strlen(code);

            } else {
                mid = s;
                mid_len = len;
            }

            if (ngx_http_tfa_resend_get_string(obj, "description", &s, &len)) {
                text = s;
                text_len = len;
            }

        } else if ((ngx_http_tfa_resend_get_string(obj, "error", &s, &len)
                    && len)
                   || (ngx_http_tfa_resend_get_string(obj, "message", &s,
                                                      &len)
                       && len))
        {
            text = s;
            text_len = len;
        }

        if (ngx_http_tfa_resend_get_string(obj, "to", &s, &len)) {
            p.to.data = s;
            p.to.len = len;
        }

        if (ngx_http_tfa_resend_get_string(obj, "pinId", &s, &len)) {
            ngx_http_tfa_resend_upstream_pin(s, len, in, &p.pin_id);

        } else {
            ngx_http_tfa_resend_upstream_pin(NULL, 0, in, &p.pin_id);
        }

    } else {
        ngx_http_tfa_resend_upstream_pin(NULL, 0, in, &p.pin_id);

        if (in->body_len
            && in->body_len <= NGX_HTTP_TFA_RESEND_PLAIN_TEXT_MAX
            && (in->content_type == NULL
                || ngx_http_tfa_resend_is_text_plain(in->content_type,
                                                     in->content_type_len)))
        {
            /*
             * "Plain text": no JSON object, and a Content-Type that is
             * absent or text/plain; an HTML error page or anything longer
             * than the cap is not shown to clients: it falls back to the
             * status.
             */

            len = ngx_http_tfa_resend_plain_text(plain, in->body,
                                                 in->body_len);
            if (len) {
                text = plain;
                text_len = len;
            }
        }
    }

    if (mid == NULL) {
        mid = (const unsigned char *)
                  ngx_http_tfa_resend_status_message_id(in->status);
        mid_len = strlen((const char *) mid);
    }

    if (text == NULL) {
        text = (const unsigned char *)
                   ngx_http_tfa_resend_default_text(in->status, mid, mid_len);
        text_len = strlen((const char *) text);
    }

    if (has_status) {
        p.call_status = ngx_http_tfa_resend_map_status(in->map, status,
                                                       status_len);
    } else {
        p.call_status = ngx_http_tfa_resend_error_call_status(in->status, mid,
                                                              mid_len);
    }

    p.status = in->status;
    p.message_id.data = mid;
    p.message_id.len = mid_len;
    p.text.data = text;
    p.text.len = text_len;
    p.validation_errors = ve;

    return ngx_http_tfa_resend_json_emit(&p, in->allocator, out);
}
