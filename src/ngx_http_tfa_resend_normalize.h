
/*
 * The canonical resend response (shared/reference/canonical-response.md):
 * every answer to an intercepted resend request is
 *
 *     {"pinId":...,"to":...,"callStatus":...[,"requestError":{...}]}
 *
 * whatever the upstream sent.  Plain C over jansson and PCRE2, with no nginx
 * headers, so that it can be unit-tested and fuzzed on its own.
 */


#ifndef _NGX_HTTP_TFA_RESEND_NORMALIZE_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_NORMALIZE_H_INCLUDED_


#include <stddef.h>


/* a plain-text upstream error body is used as "text" only up to this size */
#define NGX_HTTP_TFA_RESEND_PLAIN_TEXT_MAX  256


typedef struct ngx_http_tfa_resend_status_map_s
    ngx_http_tfa_resend_status_map_t;


typedef struct {
    int                                      status;
    const unsigned char                     *body;
    size_t                                   body_len;
    const unsigned char                     *content_type;  /* or NULL */
    size_t                                   content_type_len;
    const unsigned char                     *pin_id;   /* request's, or NULL */
    size_t                                   pin_id_len;
    const ngx_http_tfa_resend_status_map_t  *map;      /* or NULL */
} ngx_http_tfa_resend_answer_t;


typedef struct {
    int          status;           /* HTTP status to send */
    char        *body;             /* malloc'd canonical JSON, NUL-terminated */
    size_t       body_len;
    const char  *call_status;      /* static: one of the 11 values */
    char        *message_id;       /* malloc'd copy, NUL-terminated; NULL
                                      when status < 400 */
    size_t       message_id_len;
} ngx_http_tfa_resend_canonical_t;


ngx_http_tfa_resend_status_map_t *ngx_http_tfa_resend_status_map_create(void);

/*
 * Adds one "from -> canonical" row.  from is an exact value (trimmed,
 * compared case-insensitively), or "~regex" (case-sensitive) / "~*regex"
 * (case-insensitive), PCRE2 over bytes, unanchored like nginx's map, matched
 * against the trimmed upstream value.  canonical must be one of the 11 call
 * status values (exactly, upper case).  Returns 0, or -1 with err set:
 * "unknown callStatus \"X\"", "invalid regex \"R\": ... at offset N",
 * "out of memory".
 */
int ngx_http_tfa_resend_status_map_add(ngx_http_tfa_resend_status_map_t *map,
    const unsigned char *from, size_t from_len,
    const unsigned char *canonical, size_t canonical_len,
    char *err, size_t errlen);

void ngx_http_tfa_resend_status_map_free(ngx_http_tfa_resend_status_map_t *map);

/* 1 if s is exactly one of the 11 call status values, else 0 */
int ngx_http_tfa_resend_is_call_status(const unsigned char *s, size_t len);

/*
 * Maps an upstream status value (rules 2-4 of "Reading the upstream
 * status"): trimmed of ASCII white space, then the configured map (exact
 * rows first, then regexes in the order added), then the built-in table
 * (first matching row, in the contract's order).  map and status may be
 * NULL.  Returns one of the 11 static strings.
 */
const char *ngx_http_tfa_resend_map_status(
    const ngx_http_tfa_resend_status_map_t *map,
    const unsigned char *status, size_t len);

/*
 * Upstream answer -> canonical response.  Returns 0, or -1 only when memory
 * runs out (out is then left empty).  Free out with
 * ngx_http_tfa_resend_canonical_free().
 */
int ngx_http_tfa_resend_normalize(const ngx_http_tfa_resend_answer_t *in,
    ngx_http_tfa_resend_canonical_t *out);

/*
 * A canonical response made by the gateway itself: its own 400, 405, 413,
 * 415, 429, 503, or 502 UPSTREAM_ERROR / 504 UPSTREAM_TIMEOUT for an
 * unusable upstream answer.  pin_id NULL gives "pinId":null; message_id NULL
 * takes it from the status (400 BAD_REQUEST ... 5xx GENERAL_ERROR); text
 * NULL gives a default text; call_status NULL (or not one of the 11) derives
 * it: ERROR_NOT_ENOUGH_CREDITS when the messageId says so, ERROR for 5xx,
 * else BAD_REQUEST.  requestError is present when status >= 400.  Returns 0,
 * or -1 when memory runs out.
 */
int ngx_http_tfa_resend_canonical_error(int status,
    const unsigned char *pin_id, size_t pin_id_len, const char *message_id,
    const char *text, const char *call_status,
    ngx_http_tfa_resend_canonical_t *out);

void ngx_http_tfa_resend_canonical_free(ngx_http_tfa_resend_canonical_t *c);


#endif /* _NGX_HTTP_TFA_RESEND_NORMALIZE_H_INCLUDED_ */
