
/*
 * The strict scanner: the success answer as the API sends it, a flat object
 * of strings, read without building a jansson tree; anything it is not sure
 * of goes to jansson, the parser of record.  No nginx headers (see
 * ngx_http_tfa_resend_normalize.h).
 */


#include <string.h>

#include "ngx_http_tfa_resend_utf8.h"
#include "ngx_http_tfa_resend_scan.h"


static const unsigned char *ngx_http_tfa_resend_scan_space(
    const unsigned char *p, const unsigned char *end);
static const unsigned char *ngx_http_tfa_resend_scan_string(
    const unsigned char *p, const unsigned char *end);
static const unsigned char *ngx_http_tfa_resend_scan_number(
    const unsigned char *p, const unsigned char *end);
static const unsigned char *ngx_http_tfa_resend_scan_literal(
    const unsigned char *p, const unsigned char *end, const char *literal,
    size_t len);
static int ngx_http_tfa_resend_scan_key(const unsigned char *key, size_t len);


/* RFC 8259's white space, which is jansson's */

static const unsigned char *
ngx_http_tfa_resend_scan_space(const unsigned char *p,
    const unsigned char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }

    return p;
}


/*
 * A string's content, p just after the opening quote: returns p after the
 * closing quote, or NULL.  A backslash declines, so that the bytes between
 * the quotes are the value itself; a control character or invalid UTF-8 is
 * an error for jansson and declines too.
 */

static const unsigned char *
ngx_http_tfa_resend_scan_string(const unsigned char *p,
    const unsigned char *end)
{
    size_t    n;
    unsigned  cp;

    for ( ;; ) {
        while (p < end && ngx_http_tfa_resend_json_plain(*p)) {
            p++;
        }

        if (p == end || *p < 0x80) {
            /* the end, '"', '\' or a control character */
            return (p < end && *p == '"') ? p + 1 : NULL;
        }

        n = ngx_http_tfa_resend_utf8_char(p, end - p, &cp);
        if (n == 0) {
            return NULL;
        }

        p += n;
    }
}


/*
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?, RFC 8259 without the exponent.  jansson
 * fails on an integer beyond 64 bits and on a real beyond a double: an
 * exponent or more than 18 integer digits declines, so neither can happen
 * here.  Returns p after the number, or NULL.
 */

static const unsigned char *
ngx_http_tfa_resend_scan_number(const unsigned char *p,
    const unsigned char *end)
{
    const unsigned char  *digits;

    if (p < end && *p == '-') {
        p++;
    }

    digits = p;

    if (p == end || *p < '0' || *p > '9') {
        return NULL;
    }

    if (*p == '0') {
        p++;

    } else {
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }

        if (p - digits > 18) {
            return NULL;
        }
    }

    if (p < end && *p == '.') {
        p++;

        if (p == end || *p < '0' || *p > '9') {
            return NULL;
        }

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        return NULL;
    }

    return p;
}


static const unsigned char *
ngx_http_tfa_resend_scan_literal(const unsigned char *p,
    const unsigned char *end, const char *literal, size_t len)
{
    if ((size_t) (end - p) < len || memcmp(p, literal, len) != 0) {
        return NULL;
    }

    return p + len;
}


static int
ngx_http_tfa_resend_scan_key(const unsigned char *key, size_t len)
{
    switch (len) {

    case 2:
        if (memcmp(key, "to", 2) == 0) {
            return NGX_HTTP_TFA_RESEND_FIELD_TO;
        }
        break;

    case 5:
        if (memcmp(key, "pinId", 5) == 0) {
            return NGX_HTTP_TFA_RESEND_FIELD_PIN_ID;
        }
        break;

    case 6:
        if (memcmp(key, "status", 6) == 0) {
            return NGX_HTTP_TFA_RESEND_FIELD_STATUS;
        }
        break;

    case 10:
        if (memcmp(key, "callStatus", 10) == 0) {
            return NGX_HTTP_TFA_RESEND_FIELD_CALL_STATUS;
        }
        break;
    }

    return -1;
}


int
ngx_http_tfa_resend_scan(const unsigned char *body, size_t len,
    ngx_http_tfa_resend_field_t *fields)
{
    int                   i, type;
    const unsigned char  *p, *end, *key, *value;

    for (i = 0; i < NGX_HTTP_TFA_RESEND_FIELD_COUNT; i++) {
        fields[i].type = NGX_HTTP_TFA_RESEND_JSON_ABSENT;
        fields[i].data = NULL;
        fields[i].len = 0;
    }

    end = body + len;

    p = ngx_http_tfa_resend_scan_space(body, end);

    if (p == end || *p != '{') {
        return 0;
    }

    p = ngx_http_tfa_resend_scan_space(p + 1, end);

    if (p < end && *p == '}') {
        p = ngx_http_tfa_resend_scan_space(p + 1, end);
        return p == end;
    }

    for ( ;; ) {
        if (p == end || *p != '"') {
            return 0;
        }

        key = p + 1;

        p = ngx_http_tfa_resend_scan_string(key, end);
        if (p == NULL) {
            return 0;
        }

        i = ngx_http_tfa_resend_scan_key(key, p - 1 - key);

        p = ngx_http_tfa_resend_scan_space(p, end);

        if (p == end || *p != ':') {
            return 0;
        }

        p = ngx_http_tfa_resend_scan_space(p + 1, end);

        if (p == end) {
            return 0;
        }

        value = p;

        switch (*p) {

        case '"':
            p = ngx_http_tfa_resend_scan_string(p + 1, end);
            type = NGX_HTTP_TFA_RESEND_JSON_STRING;
            break;

        case 't':
            p = ngx_http_tfa_resend_scan_literal(p, end, "true", 4);
            type = NGX_HTTP_TFA_RESEND_JSON_OTHER;
            break;

        case 'f':
            p = ngx_http_tfa_resend_scan_literal(p, end, "false", 5);
            type = NGX_HTTP_TFA_RESEND_JSON_OTHER;
            break;

        case 'n':
            p = ngx_http_tfa_resend_scan_literal(p, end, "null", 4);
            type = NGX_HTTP_TFA_RESEND_JSON_NULL;
            break;

        default:
            /* a number; '{' and '[' (nesting) decline here too */
            p = ngx_http_tfa_resend_scan_number(p, end);
            type = NGX_HTTP_TFA_RESEND_JSON_OTHER;
            break;
        }

        if (p == NULL) {
            return 0;
        }

        if (i >= 0) {
            /* jansson keeps the last of duplicates: simpler to leave it */

            if (fields[i].type != NGX_HTTP_TFA_RESEND_JSON_ABSENT) {
                return 0;
            }

            fields[i].type = type;

            if (type == NGX_HTTP_TFA_RESEND_JSON_STRING) {
                fields[i].data = value + 1;
                fields[i].len = p - 1 - (value + 1);
            }
        }

        /*
         * After a value, only white space, then ',' or '}': this also
         * refuses what jansson refuses right after a token ("truex", "01",
         * "1.5.2", "-").
         */

        p = ngx_http_tfa_resend_scan_space(p, end);

        if (p == end) {
            return 0;
        }

        if (*p == '}') {
            break;
        }

        if (*p != ',') {
            return 0;
        }

        p = ngx_http_tfa_resend_scan_space(p + 1, end);
    }

    p = ngx_http_tfa_resend_scan_space(p + 1, end);

    return p == end;
}
