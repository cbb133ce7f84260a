
/*
 * The callStatus values and how an upstream status becomes one: the
 * contract's built-in table, the configured status map
 * (tfa_resend_status_map), and the tables that give an error response its
 * messageId and its text.  No nginx headers (see
 * ngx_http_tfa_resend_normalize.h).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_tfa_resend_check.h"
#include "ngx_http_tfa_resend_status.h"


#define NGX_HTTP_TFA_RESEND_EXACT     0
#define NGX_HTTP_TFA_RESEND_PREFIX    1
#define NGX_HTTP_TFA_RESEND_CONTAINS  2


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


static int ngx_http_tfa_resend_is_space(unsigned char c);
static unsigned char ngx_http_tfa_resend_upper(unsigned char c);
static int ngx_http_tfa_resend_ci_equal(const unsigned char *a, size_t alen,
    const unsigned char *b, size_t blen);
static const char *ngx_http_tfa_resend_builtin_status(const unsigned char *s,
    size_t len);


const char  *ngx_http_tfa_resend_call_statuses[] = {
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


static int
ngx_http_tfa_resend_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v'
           || c == '\f';
}


void
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

int
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


const char *
ngx_http_tfa_resend_call_status_lookup(const unsigned char *s, size_t len)
{
    const char  **v;

    if (s == NULL) {
        return NULL;
    }

    for (v = ngx_http_tfa_resend_call_statuses; *v; v++) {
        if (strlen(*v) == len && memcmp(*v, s, len) == 0) {
            return *v;
        }
    }

    return NULL;
}


int
ngx_http_tfa_resend_call_status_index(const char *s)
{
    int  i;

    if (s == NULL) {
        return -1;
    }

    for (i = 0; i < NGX_HTTP_TFA_RESEND_CALL_STATUSES; i++) {
        if (strcmp(ngx_http_tfa_resend_call_statuses[i], s) == 0) {
            return i;
        }
    }

    return -1;
}


static const char *
ngx_http_tfa_resend_builtin_status(const unsigned char *s, size_t len)
{
    unsigned char                          first;
    const char                           **v;
    const ngx_http_tfa_resend_builtin_t   *b;

    if (len == 0) {
        return "UNDEFINED";
    }

    /*
     * The 11 values map to themselves in any case here, unlike in
     * ngx_http_tfa_resend_call_status_lookup().  The first letter rules out
     * most rows before their length is taken.
     */

    first = ngx_http_tfa_resend_upper(s[0]);

    for (v = ngx_http_tfa_resend_call_statuses; *v; v++) {
        if (first == (unsigned char) (*v)[0]
            && ngx_http_tfa_resend_ci_equal(s, len,
                                            (const unsigned char *) *v,
                                            strlen(*v)))
        {
            return *v;
        }
    }

    for (b = ngx_http_tfa_resend_builtin; b->value; b++) {
        switch (b->kind) {

        case NGX_HTTP_TFA_RESEND_EXACT:
            if (first == (unsigned char) b->value[0]
                && ngx_http_tfa_resend_ci_equal(s, len,
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
    const char                     *to;
    ngx_http_tfa_resend_regex_t    *regex;
    ngx_http_tfa_resend_exact_t    *exact;
    ngx_http_tfa_resend_pattern_t  *re;

    to = ngx_http_tfa_resend_call_status_lookup(canonical, canonical_len);

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


const char *
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


const char *
ngx_http_tfa_resend_error_code_message_id(const unsigned char *code,
    size_t len)
{
    const ngx_http_tfa_resend_pair_t  *c;

    for (c = ngx_http_tfa_resend_error_codes; c->key; c++) {
        if (strlen(c->key) == len && memcmp(c->key, code, len) == 0) {
            return c->value;
        }
    }

    return NULL;
}


const char *
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

const char *
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
