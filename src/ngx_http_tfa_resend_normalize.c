
/*
 * The canonical resend response builder.  No nginx headers here (see the
 * header); the contract is shared/reference/canonical-response.md.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "ngx_http_tfa_resend_check.h"
#include "ngx_http_tfa_resend_normalize.h"


#define NGX_HTTP_TFA_RESEND_EXACT     0
#define NGX_HTTP_TFA_RESEND_PREFIX    1
#define NGX_HTTP_TFA_RESEND_CONTAINS  2

#define NGX_HTTP_TFA_RESEND_DUMP_FLAGS  (JSON_PRESERVE_ORDER|JSON_COMPACT)


typedef struct {
    unsigned char                  *from;
    size_t                          from_len;
    const char                     *to;
} ngx_http_tfa_resend_exact_t;


typedef struct {
    ngx_http_tfa_resend_pattern_t  *re;
    const char                     *to;
} ngx_http_tfa_resend_regex_t;


struct ngx_http_tfa_resend_status_map_s {
    ngx_http_tfa_resend_exact_t    *exact;
    size_t                          nexact;
    ngx_http_tfa_resend_regex_t    *regex;
    size_t                          nregex;
};


typedef struct {
    int                             kind;
    const char                     *value;
    const char                     *to;
} ngx_http_tfa_resend_builtin_t;


typedef struct {
    int                             code;
    const char                     *message_id;
} ngx_http_tfa_resend_code_t;


typedef struct {
    const char                     *key;
    const char                     *value;
} ngx_http_tfa_resend_pair_t;


static const char  *ngx_http_tfa_resend_call_statuses[] = {
    "BAD_REQUEST",
    "PROCESSING",
    "PROCESSED",
    "ANSWERED_MACHINE",
    "ERROR",
    "ERROR_NOT_ENOUGH_CREDITS",
    "ERROR_NETWORK_NOT_AVAILABLE",
    "ERROR_ROUTE_NOT_AVAILABLE",
    "ERROR_USER_BUSY",
    "ERROR_NO_ANSWER",
    "UNDEFINED",
    NULL
};


/*
 * The contract's built-in table, after the 11 values that map to
 * themselves.  Rows are tried in the contract's order and the first match
 * wins, so "REJECTED_NOT_ENOUGH_CREDITS" is ERROR_NOT_ENOUGH_CREDITS (the
 * "*...*" rows come before "REJECTED*"), while "PENDING_*" comes first of
 * all.  Values are upper case; the subject is compared case-insensitively.
 */

static const ngx_http_tfa_resend_builtin_t  ngx_http_tfa_resend_builtin[] = {
    { NGX_HTTP_TFA_RESEND_EXACT,    "PENDING",               "PROCESSING" },
    { NGX_HTTP_TFA_RESEND_PREFIX,   "PENDING_",              "PROCESSING" },
    { NGX_HTTP_TFA_RESEND_EXACT,    "ACCEPTED",              "PROCESSING" },
    { NGX_HTTP_TFA_RESEND_EXACT,    "MESSAGE_SENT",          "PROCESSING" },
    { NGX_HTTP_TFA_RESEND_EXACT,    "SENT",                  "PROCESSING" },

    { NGX_HTTP_TFA_RESEND_EXACT,    "DELIVERED",             "PROCESSED" },
    { NGX_HTTP_TFA_RESEND_PREFIX,   "DELIVERED_",            "PROCESSED" },
    { NGX_HTTP_TFA_RESEND_EXACT,    "ANSWERED",              "PROCESSED" },
    { NGX_HTTP_TFA_RESEND_EXACT,    "ANSWERED_HUMAN",        "PROCESSED" },
    { NGX_HTTP_TFA_RESEND_EXACT,    "COMPLETED",             "PROCESSED" },

    { NGX_HTTP_TFA_RESEND_EXACT,    "MACHINE",
      "ANSWERED_MACHINE" },
    { NGX_HTTP_TFA_RESEND_EXACT,    "ANSWERED_BY_MACHINE",
      "ANSWERED_MACHINE" },
    { NGX_HTTP_TFA_RESEND_EXACT,    "VOICEMAIL",
      "ANSWERED_MACHINE" },

    { NGX_HTTP_TFA_RESEND_CONTAINS, "NOT_ENOUGH_CREDITS",
      "ERROR_NOT_ENOUGH_CREDITS" },
    { NGX_HTTP_TFA_RESEND_EXACT,    "INSUFFICIENT_FUNDS",
      "ERROR_NOT_ENOUGH_CREDITS" },

    { NGX_HTTP_TFA_RESEND_CONTAINS, "NETWORK_NOT_AVAILABLE",
      "ERROR_NETWORK_NOT_AVAILABLE" },
    { NGX_HTTP_TFA_RESEND_CONTAINS, "NETWORK_NOT_ALLOWED",
      "ERROR_NETWORK_NOT_AVAILABLE" },

    { NGX_HTTP_TFA_RESEND_CONTAINS, "ROUTE_NOT_AVAILABLE",
      "ERROR_ROUTE_NOT_AVAILABLE" },
    { NGX_HTTP_TFA_RESEND_EXACT,    "NO_ROUTE",
      "ERROR_ROUTE_NOT_AVAILABLE" },

    { NGX_HTTP_TFA_RESEND_CONTAINS, "USER_BUSY",
      "ERROR_USER_BUSY" },
    { NGX_HTTP_TFA_RESEND_EXACT,    "BUSY",
      "ERROR_USER_BUSY" },

    { NGX_HTTP_TFA_RESEND_CONTAINS, "NO_ANSWER",
      "ERROR_NO_ANSWER" },

    { NGX_HTTP_TFA_RESEND_PREFIX,   "UNDELIVERABLE",         "ERROR" },
    { NGX_HTTP_TFA_RESEND_PREFIX,   "REJECTED",              "ERROR" },
    { NGX_HTTP_TFA_RESEND_PREFIX,   "EXPIRED",               "ERROR" },
    { NGX_HTTP_TFA_RESEND_PREFIX,   "FAILED",                "ERROR" },

    { 0, NULL, NULL }
};


static const ngx_http_tfa_resend_code_t  ngx_http_tfa_resend_status_ids[] = {
    { 400, "BAD_REQUEST" },
    { 401, "UNAUTHORIZED" },
    { 403, "FORBIDDEN" },
    { 404, "NOT_FOUND" },
    { 405, "METHOD_NOT_ALLOWED" },
    { 413, "REQUEST_TOO_LARGE" },
    { 429, "TOO_MANY_REQUESTS" },
    { 0, NULL }
};


/* the newer error shape's codes, as the official Java client maps them */

static const ngx_http_tfa_resend_pair_t  ngx_http_tfa_resend_error_codes[] = {
    { "E400", "BAD_REQUEST" },
    { "E401", "UNAUTHORIZED" },
    { "E403", "FORBIDDEN" },
    { "E404", "NOT_FOUND" },
    { "E429", "TOO_MANY_REQUESTS" },
    { "E500", "GENERAL_ERROR" },
    { NULL, NULL }
};


/* "text" when nothing usable was sent: Infobip's wording where it has one */

static const ngx_http_tfa_resend_pair_t  ngx_http_tfa_resend_texts[] = {
    { "BAD_REQUEST", "Bad request" },
    { "UNAUTHORIZED", "Unauthorized" },
    { "FORBIDDEN", "Forbidden" },
    { "NOT_FOUND", "Not found" },
    { "METHOD_NOT_ALLOWED", "Method not allowed" },
    { "REQUEST_TOO_LARGE", "Request too large" },
    { "TOO_MANY_REQUESTS", "Too many requests" },
    { "GENERAL_ERROR", "General error" },
    { "UPSTREAM_ERROR", "Upstream answer could not be used" },
    { "UPSTREAM_TIMEOUT", "Upstream timed out" },
    { NULL, NULL }
};


static const ngx_http_tfa_resend_code_t  ngx_http_tfa_resend_status_texts[] = {
    { 415, "Unsupported media type" },
    { 502, "Bad gateway" },
    { 503, "Service unavailable" },
    { 504, "Gateway timeout" },
    { 0, NULL }
};


static int ngx_http_tfa_resend_is_space(unsigned char c);
static void ngx_http_tfa_resend_trim(const unsigned char **s, size_t *len);
static unsigned char ngx_http_tfa_resend_upper(unsigned char c);
static int ngx_http_tfa_resend_ci_equal(const unsigned char *a, size_t alen,
    const unsigned char *b, size_t blen);
static int ngx_http_tfa_resend_ci_find(const unsigned char *s, size_t len,
    const char *needle, size_t at_most);
static const char *ngx_http_tfa_resend_builtin_status(const unsigned char *s,
    size_t len);
static size_t ngx_http_tfa_resend_utf8_char(const unsigned char *p,
    size_t len, unsigned *cp);
static unsigned char *ngx_http_tfa_resend_sanitize(const unsigned char *s,
    size_t len, int plain, size_t *out_len);
static json_t *ngx_http_tfa_resend_string(const unsigned char *s, size_t len);
static int ngx_http_tfa_resend_is_text_plain(const unsigned char *s,
    size_t len);
static const char *ngx_http_tfa_resend_status_message_id(int status);
static const char *ngx_http_tfa_resend_default_text(int status,
    const unsigned char *message_id, size_t len);
static const char *ngx_http_tfa_resend_error_call_status(int status,
    const unsigned char *message_id, size_t len);
static int ngx_http_tfa_resend_get_string(json_t *obj, const char *key,
    const unsigned char **s, size_t *len);
static int ngx_http_tfa_resend_upstream_status(json_t *obj,
    const unsigned char **s, size_t *len);
static json_t *ngx_http_tfa_resend_pin(json_t *obj,
    const ngx_http_tfa_resend_answer_t *in);
static int ngx_http_tfa_resend_finish(int status, json_t *pin, json_t *to,
    const char *call_status, json_t *exception,
    ngx_http_tfa_resend_canonical_t *out);
static int ngx_http_tfa_resend_error(const ngx_http_tfa_resend_answer_t *in,
    json_t *obj, ngx_http_tfa_resend_canonical_t *out);


static int
ngx_http_tfa_resend_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v'
           || c == '\f';
}


static void
ngx_http_tfa_resend_trim(const unsigned char **s, size_t *len)
{
    while (*len && ngx_http_tfa_resend_is_space((*s)[0])) {
        (*s)++;
        (*len)--;
    }

    while (*len && ngx_http_tfa_resend_is_space((*s)[*len - 1])) {
        (*len)--;
    }
}


static unsigned char
ngx_http_tfa_resend_upper(unsigned char c)
{
    /* ASCII only, whatever the locale: the status names are ASCII */
    return (c >= 'a' && c <= 'z') ? (unsigned char) (c - 'a' + 'A') : c;
}


static int
ngx_http_tfa_resend_ci_equal(const unsigned char *a, size_t alen,
    const unsigned char *b, size_t blen)
{
    size_t  i;

    if (alen != blen) {
        return 0;
    }

    for (i = 0; i < alen; i++) {
        if (ngx_http_tfa_resend_upper(a[i]) != ngx_http_tfa_resend_upper(b[i]))
        {
            return 0;
        }
    }

    return 1;
}


/*
 * Case-insensitive search of needle in s, starting at
 * positions 0 .. at_most (at_most 0: a prefix check).
 */

static int
ngx_http_tfa_resend_ci_find(const unsigned char *s, size_t len,
    const char *needle, size_t at_most)
{
    size_t  i, n;

    n = strlen(needle);

    if (len < n) {
        return 0;
    }

    for (i = 0; i <= len - n && i <= at_most; i++) {
        if (ngx_http_tfa_resend_upper(s[i])
            == ngx_http_tfa_resend_upper((unsigned char) needle[0])
            && ngx_http_tfa_resend_ci_equal(s + i, n,
                                            (const unsigned char *) needle, n))
        {
            return 1;
        }
    }

    return 0;
}


int
ngx_http_tfa_resend_is_call_status(const unsigned char *s, size_t len)
{
    const char  **v;

    if (s == NULL) {
        return 0;
    }

    for (v = ngx_http_tfa_resend_call_statuses; *v; v++) {
        if (strlen(*v) == len && memcmp(*v, s, len) == 0) {
            return 1;
        }
    }

    return 0;
}


static const char *
ngx_http_tfa_resend_builtin_status(const unsigned char *s, size_t len)
{
    const char                           **v;
    const ngx_http_tfa_resend_builtin_t   *b;

    for (v = ngx_http_tfa_resend_call_statuses; *v; v++) {
        if (ngx_http_tfa_resend_ci_equal(s, len, (const unsigned char *) *v,
                                         strlen(*v)))
        {
            return *v;
        }
    }

    for (b = ngx_http_tfa_resend_builtin; b->value; b++) {
        switch (b->kind) {

        case NGX_HTTP_TFA_RESEND_EXACT:
            if (ngx_http_tfa_resend_ci_equal(s, len,
                                             (const unsigned char *) b->value,
                                             strlen(b->value)))
            {
                return b->to;
            }
            break;

        case NGX_HTTP_TFA_RESEND_PREFIX:
            if (ngx_http_tfa_resend_ci_find(s, len, b->value, 0)) {
                return b->to;
            }
            break;

        default: /* NGX_HTTP_TFA_RESEND_CONTAINS */
            if (ngx_http_tfa_resend_ci_find(s, len, b->value, (size_t) -1)) {
                return b->to;
            }
            break;
        }
    }

    return "UNDEFINED";
}


ngx_http_tfa_resend_status_map_t *
ngx_http_tfa_resend_status_map_create(void)
{
    return calloc(1, sizeof(ngx_http_tfa_resend_status_map_t));
}


int
ngx_http_tfa_resend_status_map_add(ngx_http_tfa_resend_status_map_t *map,
    const unsigned char *from, size_t from_len,
    const unsigned char *canonical, size_t canonical_len,
    char *err, size_t errlen)
{
    int                             caseless;
    size_t                          skip;
    const char                    **v, *to;
    ngx_http_tfa_resend_regex_t    *regex;
    ngx_http_tfa_resend_exact_t    *exact;
    ngx_http_tfa_resend_pattern_t  *re;

    to = NULL;

    for (v = ngx_http_tfa_resend_call_statuses; *v; v++) {
        if (canonical && strlen(*v) == canonical_len
            && memcmp(*v, canonical, canonical_len) == 0)
        {
            to = *v;
            break;
        }
    }

    if (to == NULL) {
        if (err && errlen) {
            snprintf(err, errlen, "unknown callStatus \"%.*s\"",
                     (int) (canonical_len > 64 ? 64 : canonical_len),
                     canonical ? (const char *) canonical : "");
        }

        return -1;
    }

    if (from == NULL) {
        from = (const unsigned char *) "";
        from_len = 0;
    }

    if (from_len && from[0] == '~') {
        caseless = (from_len > 1 && from[1] == '*');
        skip = caseless ? 2 : 1;

        re = ngx_http_tfa_resend_pattern_compile_ex(from + skip,
                                                    from_len - skip, caseless,
                                                    err, errlen);
        if (re == NULL) {
            return -1;
        }

        regex = realloc(map->regex, (map->nregex + 1)
                                    * sizeof(ngx_http_tfa_resend_regex_t));
        if (regex == NULL) {
            ngx_http_tfa_resend_pattern_free(re);
            goto nomem;
        }

        map->regex = regex;
        regex[map->nregex].re = re;
        regex[map->nregex].to = to;
        map->nregex++;

        return 0;
    }

    /* exact values are compared trimmed, as the upstream value is */

    ngx_http_tfa_resend_trim(&from, &from_len);

    exact = realloc(map->exact,
                    (map->nexact + 1) * sizeof(ngx_http_tfa_resend_exact_t));
    if (exact == NULL) {
        goto nomem;
    }

    map->exact = exact;

    exact[map->nexact].from = malloc(from_len + 1);
    if (exact[map->nexact].from == NULL) {
        goto nomem;
    }

    memcpy(exact[map->nexact].from, from, from_len);
    exact[map->nexact].from_len = from_len;
    exact[map->nexact].to = to;
    map->nexact++;

    return 0;

nomem:

    if (err && errlen) {
        snprintf(err, errlen, "out of memory");
    }

    return -1;
}


void
ngx_http_tfa_resend_status_map_free(ngx_http_tfa_resend_status_map_t *map)
{
    size_t  i;

    if (map == NULL) {
        return;
    }

    for (i = 0; i < map->nexact; i++) {
        free(map->exact[i].from);
    }

    for (i = 0; i < map->nregex; i++) {
        ngx_http_tfa_resend_pattern_free(map->regex[i].re);
    }

    free(map->exact);
    free(map->regex);
    free(map);
}


const char *
ngx_http_tfa_resend_map_status(const ngx_http_tfa_resend_status_map_t *map,
    const unsigned char *status, size_t len)
{
    size_t  i;

    if (status == NULL) {
        return "UNDEFINED";
    }

    ngx_http_tfa_resend_trim(&status, &len);

    if (map) {
        for (i = 0; i < map->nexact; i++) {
            if (ngx_http_tfa_resend_ci_equal(status, len, map->exact[i].from,
                                             map->exact[i].from_len))
            {
                return map->exact[i].to;
            }
        }

        for (i = 0; i < map->nregex; i++) {
            if (ngx_http_tfa_resend_pattern_match(map->regex[i].re, status,
                                                  len))
            {
                return map->regex[i].to;
            }
        }
    }

    return ngx_http_tfa_resend_builtin_status(status, len);
}


/*
 * Decodes one UTF-8 character as jansson validates it (no overlong forms,
 * no surrogates, nothing above U+10FFFF).  Returns its length, or 0 for an
 * invalid byte.
 */

static size_t
ngx_http_tfa_resend_utf8_char(const unsigned char *p, size_t len,
    unsigned *cp)
{
    size_t         n, i;
    unsigned       c;
    unsigned char  lo, hi;

    c = p[0];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }

    lo = 0x80;
    hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        c &= 0x1f;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = (c == 0xe0) ? 0xa0 : 0x80;
        hi = (c == 0xed) ? 0x9f : 0xbf;
        c &= 0x0f;

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = (c == 0xf0) ? 0x90 : 0x80;
        hi = (c == 0xf4) ? 0x8f : 0xbf;
        c &= 0x07;

    } else {
        return 0;
    }

    if (len < n || p[1] < lo || p[1] > hi) {
        return 0;
    }

    c = (c << 6) | (p[1] & 0x3f);

    for (i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }

        c = (c << 6) | (p[i] & 0x3f);
    }

    *cp = c;
    return n;
}


/*
 * Copies bytes into valid UTF-8, an invalid byte becoming U+FFFD, so that
 * jansson accepts the string whatever it was.  With plain != 0 (a
 * plain-text upstream body): C0/C1 control characters and DEL are dropped,
 * except that a tab or line break becomes one space so that words on
 * separate lines stay apart; runs of spaces are collapsed and the result
 * trimmed.  Returns a malloc'd buffer, or NULL when memory runs out.
 */

static unsigned char *
ngx_http_tfa_resend_sanitize(const unsigned char *s, size_t len, int plain,
    size_t *out_len)
{
    size_t          i, n;
    unsigned        cp;
    unsigned char  *buf, *d;

    if (len > ((size_t) -1 - 1) / 3) {
        return NULL;
    }

    buf = malloc(len * 3 + 1);
    if (buf == NULL) {
        return NULL;
    }

    d = buf;

    for (i = 0; i < len; i += n) {
        n = ngx_http_tfa_resend_utf8_char(s + i, len - i, &cp);

        if (n == 0) {
            n = 1;
            *d++ = 0xef; *d++ = 0xbf; *d++ = 0xbd;
            continue;
        }

        if (plain) {
            if (cp == '\t' || cp == '\n' || cp == '\r' || cp == ' ') {
                if (d > buf && d[-1] != ' ') {
                    *d++ = ' ';
                }

                continue;
            }

            if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
                continue;
            }
        }

        memcpy(d, s + i, n);
        d += n;
    }

    if (plain && d > buf && d[-1] == ' ') {
        d--;
    }

    *d = '\0';
    *out_len = d - buf;

    return buf;
}


static json_t *
ngx_http_tfa_resend_string(const unsigned char *s, size_t len)
{
    size_t          n;
    json_t         *v;
    unsigned char  *buf;

    buf = ngx_http_tfa_resend_sanitize(s, len, 0, &n);
    if (buf == NULL) {
        return NULL;
    }

    v = json_stringn((const char *) buf, n);
    free(buf);

    return v;
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


static const char *
ngx_http_tfa_resend_status_message_id(int status)
{
    const ngx_http_tfa_resend_code_t  *c;

    for (c = ngx_http_tfa_resend_status_ids; c->message_id; c++) {
        if (c->code == status) {
            return c->message_id;
        }
    }

    return status >= 500 ? "GENERAL_ERROR" : "BAD_REQUEST";
}


static const char *
ngx_http_tfa_resend_default_text(int status, const unsigned char *message_id,
    size_t len)
{
    const ngx_http_tfa_resend_pair_t  *t;
    const ngx_http_tfa_resend_code_t  *c;

    for (t = ngx_http_tfa_resend_texts; t->key; t++) {
        if (strlen(t->key) == len && memcmp(t->key, message_id, len) == 0) {
            return t->value;
        }
    }

    for (c = ngx_http_tfa_resend_status_texts; c->message_id; c++) {
        if (c->code == status) {
            return c->message_id;
        }
    }

    return status >= 500 ? "General error" : "Bad request";
}


/* callStatus of an error response whose body carried no status */

static const char *
ngx_http_tfa_resend_error_call_status(int status,
    const unsigned char *message_id, size_t len)
{
    if (message_id
        && (ngx_http_tfa_resend_ci_find(message_id, len, "NOT_ENOUGH_CREDITS",
                                        (size_t) -1)
            || ngx_http_tfa_resend_ci_find(message_id, len,
                                           "INSUFFICIENT_FUNDS", (size_t) -1)))
    {
        return "ERROR_NOT_ENOUGH_CREDITS";
    }

    return status >= 500 ? "ERROR" : "BAD_REQUEST";
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

static json_t *
ngx_http_tfa_resend_pin(json_t *obj, const ngx_http_tfa_resend_answer_t *in)
{
    size_t                len;
    const unsigned char  *s;

    if (obj && ngx_http_tfa_resend_get_string(obj, "pinId", &s, &len)
        && len)
    {
        return ngx_http_tfa_resend_string(s, len);
    }

    if (in->pin_id) {
        return ngx_http_tfa_resend_string(in->pin_id, in->pin_id_len);
    }

    return json_null();
}


/*
 * Assembles the canonical object and dumps it.  Takes over the references
 * to pin, to and exception (any may be NULL after a failed allocation, which
 * then fails the whole).
 */

static int
ngx_http_tfa_resend_finish(int status, json_t *pin, json_t *to,
    const char *call_status, json_t *exception,
    ngx_http_tfa_resend_canonical_t *out)
{
    int          rc;
    char        *buf;
    size_t       size;
    json_t      *root, *error, *mid;
    const char  *s;

    memset(out, 0, sizeof(ngx_http_tfa_resend_canonical_t));

    rc = -1;
    buf = NULL;

    root = json_object();
    error = NULL;

    if (root == NULL || pin == NULL || to == NULL) {
        goto done;
    }

    /* json_object_set_new() takes the reference even when it fails */

    if (json_object_set_new(root, "pinId", pin) != 0) {
        pin = NULL;
        goto done;
    }

    pin = NULL;

    if (json_object_set_new(root, "to", to) != 0) {
        to = NULL;
        goto done;
    }

    to = NULL;

    if (json_object_set_new(root, "callStatus", json_string(call_status))
        != 0)
    {
        goto done;
    }

    if (status >= 400) {
        if (exception == NULL) {
            goto done;
        }

        error = json_object();
        if (error == NULL) {
            goto done;
        }

        if (json_object_set(error, "serviceException", exception) != 0
            || json_object_set_new(root, "requestError", error) != 0)
        {
            json_decref(error);
            goto done;
        }

        mid = json_object_get(exception, "messageId");
        s = json_string_value(mid);

        if (s) {
            out->message_id_len = json_string_length(mid);
            out->message_id = malloc(out->message_id_len + 1);
            if (out->message_id == NULL) {
                goto done;
            }

            memcpy(out->message_id, s, out->message_id_len + 1);
        }
    }

    size = json_dumpb(root, NULL, 0, NGX_HTTP_TFA_RESEND_DUMP_FLAGS);
    if (size == 0) {
        goto done;
    }

    buf = malloc(size + 1);
    if (buf == NULL) {
        goto done;
    }

    if (json_dumpb(root, buf, size, NGX_HTTP_TFA_RESEND_DUMP_FLAGS) != size) {
        goto done;
    }

    buf[size] = '\0';

    out->status = status;
    out->body = buf;
    out->body_len = size;
    out->call_status = call_status;

    buf = NULL;
    rc = 0;

done:

    if (rc != 0) {
        free(out->message_id);
        memset(out, 0, sizeof(ngx_http_tfa_resend_canonical_t));
    }

    free(buf);
    json_decref(root);
    json_decref(pin);
    json_decref(to);
    json_decref(exception);

    return rc;
}


/* an error answer (status >= 400): keep the status, canonicalize the body */

static int
ngx_http_tfa_resend_error(const ngx_http_tfa_resend_answer_t *in,
    json_t *obj, ngx_http_tfa_resend_canonical_t *out)
{
    int                                has_status;
    size_t                             mid_len, text_len, status_len, len;
    json_t                            *se, *ve, *exception, *to;
    const char                        *call_status;
    unsigned char                     *plain;
    const unsigned char               *mid, *text, *status, *s;
    const ngx_http_tfa_resend_pair_t  *c;

    mid = NULL;
    mid_len = 0;
    text = NULL;
    text_len = 0;
    ve = NULL;
    plain = NULL;
    has_status = 0;
    status = NULL;
    status_len = 0;

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

            mid = s;
            mid_len = len;

            for (c = ngx_http_tfa_resend_error_codes; c->key; c++) {
                if (strlen(c->key) == len && memcmp(c->key, s, len) == 0) {
                    mid = (const unsigned char *) c->value;
                    mid_len = strlen(c->value);
                    break;
                }
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

    } else if (in->body_len
               && in->body_len <= NGX_HTTP_TFA_RESEND_PLAIN_TEXT_MAX
               && (in->content_type == NULL
                   || ngx_http_tfa_resend_is_text_plain(in->content_type,
                                                     in->content_type_len)))
    {
        /*
         * "Plain text": no JSON object, and a Content-Type that is absent
         * or text/plain; an HTML error page or anything longer than the cap
         * is not shown to clients: it falls back to the status.
         */

        plain = ngx_http_tfa_resend_sanitize(in->body, in->body_len, 1, &len);
        if (plain == NULL) {
            return -1;
        }

        if (len) {
            text = plain;
            text_len = len;
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
        call_status = ngx_http_tfa_resend_map_status(in->map, status,
                                                     status_len);
    } else {
        call_status = ngx_http_tfa_resend_error_call_status(in->status, mid,
                                                            mid_len);
    }

    exception = json_object();

    if (exception
        && (json_object_set_new(exception, "messageId",
                                ngx_http_tfa_resend_string(mid, mid_len))
            || json_object_set_new(exception, "text",
                                   ngx_http_tfa_resend_string(text, text_len))
            || (ve && json_object_set(exception, "validationErrors", ve))))
    {
        json_decref(exception);
        exception = NULL;
    }

    free(plain);

    if (obj && ngx_http_tfa_resend_get_string(obj, "to", &s, &len)) {
        to = ngx_http_tfa_resend_string(s, len);

    } else {
        to = json_null();
    }

    return ngx_http_tfa_resend_finish(in->status,
                                      ngx_http_tfa_resend_pin(obj, in), to,
                                      call_status, exception, out);
}


int
ngx_http_tfa_resend_normalize(const ngx_http_tfa_resend_answer_t *in,
    ngx_http_tfa_resend_canonical_t *out)
{
    int                   rc;
    size_t                len;
    json_t               *root, *obj, *to;
    const char           *call_status, *text;
    json_error_t          error;
    const unsigned char  *s;

    memset(out, 0, sizeof(ngx_http_tfa_resend_canonical_t));

    /*
     * JSON_DECODE_ANY: a scalar is reported as "not a JSON object", not as
     * invalid JSON.  JSON_ALLOW_NUL: "\u0000" is valid JSON; the strings are
     * handled with their lengths and dumped escaped again.
     */

    root = NULL;

    if (in->body_len) {
        root = json_loadb((const char *) in->body, in->body_len,
                          JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
    }

    obj = json_is_object(root) ? root : NULL;

    if (in->status >= 400) {
        rc = ngx_http_tfa_resend_error(in, obj, out);
        json_decref(root);
        return rc;
    }

    if (obj == NULL) {
        if (in->body_len == 0) {
            text = "upstream answer is empty";

        } else if (root == NULL) {
            text = "upstream answer is not valid JSON";

        } else {
            text = "upstream answer is not a JSON object";
        }

        json_decref(root);

        return ngx_http_tfa_resend_canonical_error(502, in->pin_id,
                                                   in->pin_id_len,
                                                   "UPSTREAM_ERROR", text,
                                                   "ERROR", out);
    }

    if (ngx_http_tfa_resend_upstream_status(obj, &s, &len)) {
        call_status = ngx_http_tfa_resend_map_status(in->map, s, len);

    } else {
        call_status = "UNDEFINED";
    }

    if (ngx_http_tfa_resend_get_string(obj, "to", &s, &len)) {
        to = ngx_http_tfa_resend_string(s, len);

    } else {
        to = json_null();
    }

    rc = ngx_http_tfa_resend_finish(in->status,
                                    ngx_http_tfa_resend_pin(obj, in), to,
                                    call_status, NULL, out);

    json_decref(root);

    return rc;
}


int
ngx_http_tfa_resend_canonical_error(int status, const unsigned char *pin_id,
    size_t pin_id_len, const char *message_id, const char *text,
    const char *call_status, ngx_http_tfa_resend_canonical_t *out)
{
    size_t       mid_len;
    json_t      *pin, *exception;
    const char  *cs;

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
        const char  **v;

        /* the static copy, so that out->call_status outlives the caller's */

        for (v = ngx_http_tfa_resend_call_statuses; *v; v++) {
            if (strcmp(*v, call_status) == 0) {
                cs = *v;
                break;
            }
        }
    }

    if (cs == NULL) {
        cs = ngx_http_tfa_resend_error_call_status(status,
                                      (const unsigned char *) message_id,
                                      mid_len);
    }

    if (pin_id) {
        pin = ngx_http_tfa_resend_string(pin_id, pin_id_len);

    } else {
        pin = json_null();
    }

    exception = NULL;

    if (status >= 400) {
        exception = json_object();

        if (exception
            && (json_object_set_new(exception, "messageId",
                          ngx_http_tfa_resend_string(
                              (const unsigned char *) message_id, mid_len))
                || json_object_set_new(exception, "text",
                          ngx_http_tfa_resend_string(
                              (const unsigned char *) text, strlen(text)))))
        {
            json_decref(exception);
            exception = NULL;
        }
    }

    return ngx_http_tfa_resend_finish(status, pin, json_null(), cs, exception,
                                      out);
}


void
ngx_http_tfa_resend_canonical_free(ngx_http_tfa_resend_canonical_t *c)
{
    if (c == NULL) {
        return;
    }

    free(c->body);
    free(c->message_id);
    memset(c, 0, sizeof(ngx_http_tfa_resend_canonical_t));
}
