
/*
 * The strict scanner of success answers: see ngx_http_tfa_resend_scan.c.
 * Plain C, no nginx headers.
 */


#ifndef _NGX_HTTP_TFA_RESEND_SCAN_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_SCAN_H_INCLUDED_


#include <stddef.h>


/* what a field held: its JSON type, or nothing */
#define NGX_HTTP_TFA_RESEND_JSON_ABSENT        0
#define NGX_HTTP_TFA_RESEND_JSON_NULL          1
#define NGX_HTTP_TFA_RESEND_JSON_STRING        2
#define NGX_HTTP_TFA_RESEND_JSON_OTHER         3  /* a number, true or false */

/* the top-level keys read, as indexes into fields[] */
#define NGX_HTTP_TFA_RESEND_FIELD_PIN_ID       0  /* "pinId" */
#define NGX_HTTP_TFA_RESEND_FIELD_TO           1  /* "to" */
#define NGX_HTTP_TFA_RESEND_FIELD_CALL_STATUS  2  /* "callStatus" */
#define NGX_HTTP_TFA_RESEND_FIELD_STATUS       3  /* "status" */
#define NGX_HTTP_TFA_RESEND_FIELD_COUNT        4


typedef struct {
    int                                      type;
    const unsigned char                     *data;  /* a JSON_STRING's */
    size_t                                   len;
} ngx_http_tfa_resend_field_t;


/*
 * The scanner: 1 when body is, exactly by RFC 8259, one JSON object whose
 * values are all strings, numbers, true, false or null, with white space
 * around; fields[] then has the top-level "pinId", "to", "callStatus" and
 * "status" (indexed as above), strings pointing into body.  0 (declined)
 * for anything else, and for what it could read but leaves to jansson: a
 * nested value, a backslash in a string, a number with an exponent or with
 * more than 18 integer digits (jansson refuses some of those), one of the
 * four keys twice.  An input it accepts is one that jansson parses
 * (JSON_DECODE_ANY | JSON_ALLOW_NUL) to an object with the same four values.
 */
int ngx_http_tfa_resend_scan(const unsigned char *body, size_t len,
    ngx_http_tfa_resend_field_t *fields);


#endif /* _NGX_HTTP_TFA_RESEND_SCAN_H_INCLUDED_ */
