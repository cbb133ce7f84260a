
/*
 * The callStatus values, the status map and the status tables: see
 * ngx_http_tfa_resend_status.c.  Plain C, no nginx headers.
 */


#ifndef _NGX_HTTP_TFA_RESEND_STATUS_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_STATUS_H_INCLUDED_


#include <stddef.h>


/* the callStatus values: ngx_http_tfa_resend_call_statuses[0 .. 10] */
#define NGX_HTTP_TFA_RESEND_CALL_STATUSES  11


typedef struct ngx_http_tfa_resend_status_map_s
    ngx_http_tfa_resend_status_map_t;


/* the 11 callStatus values, in the contract's order, then NULL */
extern const char  *ngx_http_tfa_resend_call_statuses[];


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

/*
 * The static copy of s when s is exactly one of the 11 call status values
 * (upper case), else NULL.  s may be NULL.
 */
const char *ngx_http_tfa_resend_call_status_lookup(const unsigned char *s,
    size_t len);

/*
 * The index of s in ngx_http_tfa_resend_call_statuses[] when s is exactly
 * one of the 11 values, else -1.  s may be NULL.
 */
int ngx_http_tfa_resend_call_status_index(const char *s);

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

void ngx_http_tfa_resend_trim(const unsigned char **s, size_t *len);

/*
 * Case-insensitive search of needle in s, starting at
 * positions 0 .. at_most (at_most 0: a prefix check).
 */
int ngx_http_tfa_resend_ci_find(const unsigned char *s, size_t len,
    const char *needle, size_t at_most);

/* the messageId of an HTTP status: 400 BAD_REQUEST ... 5xx GENERAL_ERROR */
const char *ngx_http_tfa_resend_status_message_id(int status);

/*
 * The messageId of an "errorCode" of the newer error shape ("E404":
 * NOT_FOUND), or NULL for a code the table does not know.
 */
const char *ngx_http_tfa_resend_error_code_message_id(
    const unsigned char *code, size_t len);

/* "text" when the upstream sent none: by messageId, else by HTTP status */
const char *ngx_http_tfa_resend_default_text(int status,
    const unsigned char *message_id, size_t len);

/* callStatus of an error response whose body carried no status */
const char *ngx_http_tfa_resend_error_call_status(int status,
    const unsigned char *message_id, size_t len);


#endif /* _NGX_HTTP_TFA_RESEND_STATUS_H_INCLUDED_ */
