
/*
 * The JSON writer: the canonical body written directly, once, into one
 * block from the caller's allocator (the filter's request pool), of the
 * exact size for an error answer, with room for the worst case of its two
 * short strings for a success.  No nginx headers (see
 * ngx_http_tfa_resend_normalize.h).
 */


#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "ngx_http_tfa_resend_utf8.h"
#include "ngx_http_tfa_resend_json.h"


/* validationErrors as jansson dumped it: any JSON value, compact, in order */
#define NGX_HTTP_TFA_RESEND_JSON_DUMP_FLAGS                                  \
    (JSON_PRESERVE_ORDER|JSON_COMPACT|JSON_ENCODE_ANY)


static size_t ngx_http_tfa_resend_put(unsigned char *d, size_t at,
    const void *s, size_t n);
static size_t ngx_http_tfa_resend_utf8_copy(unsigned char *d,
    const unsigned char *s, size_t len);
static size_t ngx_http_tfa_resend_json_string(unsigned char *d, size_t at,
    const unsigned char *s, size_t len);
static size_t ngx_http_tfa_resend_write(unsigned char *d,
    const ngx_http_tfa_resend_parts_t *p);


/*
 * The writers below count when d is NULL and write at d + at otherwise:
 * an error body is measured by the very code that then writes it, so that
 * one allocation of the exact size is enough.
 */

static size_t
ngx_http_tfa_resend_put(unsigned char *d, size_t at, const void *s, size_t n)
{
    if (d) {
        memcpy(d + at, s, n);
    }

    return n;
}


#define ngx_http_tfa_resend_put_literal(d, at, s)                           \
    ngx_http_tfa_resend_put(d, at, s, sizeof(s) - 1)


/*
 * Bytes made valid UTF-8, each invalid byte becoming U+FFFD, as a string
 * from the request or the caller must be before it goes out.
 */

static size_t
ngx_http_tfa_resend_utf8_copy(unsigned char *d, const unsigned char *s,
    size_t len)
{
    size_t    i, n, size;
    unsigned  cp;

    size = 0;

    for (i = 0; i < len; i += n) {
        n = ngx_http_tfa_resend_utf8_char(s + i, len - i, &cp);

        if (n == 0) {
            n = 1;
            size += ngx_http_tfa_resend_put_literal(d, size, "\xef\xbf\xbd");
            continue;
        }

        size += ngx_http_tfa_resend_put(d, size, s + i, n);
    }

    return size;
}


/*
 * A JSON string, quotes included, exactly as the canonical body had it when
 * it was a jansson tree dumped with JSON_COMPACT (and neither
 * JSON_ENSURE_ASCII nor JSON_ESCAPE_SLASH): the bytes made valid UTF-8 as
 * above, then '"' and '\' escaped, \b \f \n \r \t, the other characters
 * below 0x20 as \u00XX in upper-case hex, and everything else (DEL, C1
 * controls, non-ASCII, '/') as it is.  s NULL is JSON null.
 */

static size_t
ngx_http_tfa_resend_json_string(unsigned char *d, size_t at,
    const unsigned char *s, size_t len)
{
    size_t          i, n, run, size;
    unsigned        cp;
    const char     *esc;
    unsigned char   c, seq[6];

    static const char  hex[] = "0123456789ABCDEF";

    if (s == NULL) {
        return ngx_http_tfa_resend_put_literal(d, at, "null");
    }

    size = at;
    size += ngx_http_tfa_resend_put_literal(d, size, "\"");

    i = 0;

    while (i < len) {

        /* printable ASCII, nearly all of any real answer, goes in runs */

        run = i;

        while (i < len && ngx_http_tfa_resend_json_plain(s[i])) {
            i++;
        }

        if (i > run) {
            size += ngx_http_tfa_resend_put(d, size, s + run, i - run);
            continue;
        }

        c = s[i];

        if (c >= 0x80) {
            n = ngx_http_tfa_resend_utf8_char(s + i, len - i, &cp);

            if (n == 0) {
                size += ngx_http_tfa_resend_put_literal(d, size,
                                                        "\xef\xbf\xbd");
                i++;

            } else {
                size += ngx_http_tfa_resend_put(d, size, s + i, n);
                i += n;
            }

            continue;
        }

        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            esc = NULL;
        }

        if (esc) {
            size += ngx_http_tfa_resend_put(d, size, esc, 2);

        } else {
            seq[0] = '\\';
            seq[1] = 'u';
            seq[2] = '0';
            seq[3] = '0';
            seq[4] = hex[c >> 4];
            seq[5] = hex[c & 0x0f];

            size += ngx_http_tfa_resend_put(d, size, seq, 6);
        }

        i++;
    }

    size += ngx_http_tfa_resend_put_literal(d, size, "\"");

    return size - at;
}


/*
 * The canonical body, in this key order, with nothing else:
 *
 *   {"pinId":P,"to":T,"callStatus":"C"}
 *   {"pinId":P,"to":T,"callStatus":"C","requestError":{"serviceException":
 *       {"messageId":M,"text":X[,"validationErrors":V]}}}  (status >= 400)
 *
 * V is the upstream's own JSON, whatever its type, dumped by jansson as it
 * was before (its length measured first, in validation_errors_len).
 */

static size_t
ngx_http_tfa_resend_write(unsigned char *d,
    const ngx_http_tfa_resend_parts_t *p)
{
    size_t  n;

    n = ngx_http_tfa_resend_put_literal(d, 0, "{\"pinId\":");
    n += ngx_http_tfa_resend_json_string(d, n, p->pin_id.data,
                                         p->pin_id.len);
    n += ngx_http_tfa_resend_put_literal(d, n, ",\"to\":");
    n += ngx_http_tfa_resend_json_string(d, n, p->to.data, p->to.len);
    n += ngx_http_tfa_resend_put_literal(d, n, ",\"callStatus\":\"");
    n += ngx_http_tfa_resend_put(d, n, p->call_status,
                                 strlen(p->call_status));

    if (p->status < 400) {
        n += ngx_http_tfa_resend_put_literal(d, n, "\"}");
        return n;
    }

    n += ngx_http_tfa_resend_put_literal(d, n,
             "\",\"requestError\":{\"serviceException\":{\"messageId\":");
    n += ngx_http_tfa_resend_json_string(d, n, p->message_id.data,
                                         p->message_id.len);
    n += ngx_http_tfa_resend_put_literal(d, n, ",\"text\":");
    n += ngx_http_tfa_resend_json_string(d, n, p->text.data, p->text.len);

    if (p->validation_errors) {
        n += ngx_http_tfa_resend_put_literal(d, n, ",\"validationErrors\":");

        if (d && json_dumpb(p->validation_errors, (char *) d + n,
                            p->validation_errors_len,
                            NGX_HTTP_TFA_RESEND_JSON_DUMP_FLAGS)
                 != p->validation_errors_len)
        {
            /* cannot happen: the same value measured a moment ago */
            return 0;
        }

        n += p->validation_errors_len;
    }

    n += ngx_http_tfa_resend_put_literal(d, n, "}}}");

    return n;
}


/*
 * Allocates once (the body, its NUL, and for an error the messageId copy
 * after it) and writes.  Returns 0, or -1 with out empty.
 */

int
ngx_http_tfa_resend_json_emit(ngx_http_tfa_resend_parts_t *p,
    const ngx_http_tfa_resend_allocator_t *allocator,
    ngx_http_tfa_resend_canonical_t *out)
{
    size_t          size, mid_len, total;
    unsigned char  *buf;

    memset(out, 0, sizeof(ngx_http_tfa_resend_canonical_t));

    if (p->validation_errors) {
        p->validation_errors_len = json_dumpb(p->validation_errors, NULL, 0,
                                         NGX_HTTP_TFA_RESEND_JSON_DUMP_FLAGS);
        if (p->validation_errors_len == 0) {
            return -1;
        }
    }

    mid_len = 0;

    if (p->status < 400) {

        /*
         * Two short strings: room for the worst of each (6 bytes a byte,
         * as "\u00XX"; 4 for null) costs less than measuring them first
         */

        size = 0;  /* known once written */
        total = sizeof("{\"pinId\":,\"to\":,\"callStatus\":\"\"}")
                + 6 * (p->pin_id.len + p->to.len) + 2 * 4
                + strlen(p->call_status);

    } else {
        size = ngx_http_tfa_resend_write(NULL, p);
        total = size + 1;

        mid_len = ngx_http_tfa_resend_utf8_copy(NULL, p->message_id.data,
                                                p->message_id.len);
        total += mid_len + 1;
    }

    if (allocator) {
        buf = allocator->alloc(allocator->data, total);

    } else {
        buf = malloc(total);
    }

    if (buf == NULL) {
        return -1;
    }

    if (p->status < 400) {
        size = ngx_http_tfa_resend_write(buf, p);

    } else if (ngx_http_tfa_resend_write(buf, p) != size) {
        if (allocator == NULL) {
            free(buf);
        }

        return -1;
    }

    buf[size] = '\0';

    if (p->status >= 400) {
        out->message_id = (char *) buf + size + 1;
        out->message_id_len = ngx_http_tfa_resend_utf8_copy(
                                  (unsigned char *) out->message_id,
                                  p->message_id.data, p->message_id.len);
        out->message_id[mid_len] = '\0';
    }

    out->status = p->status;
    out->body = (char *) buf;
    out->body_len = size;
    out->call_status = p->call_status;
    out->malloced = (allocator == NULL);

    return 0;
}
