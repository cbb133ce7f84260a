
/*
 * The strict scanner of success answers: see ngx_http_tfa_resend_scan.c.
 * Plain C, no nginx headers.
 */


#ifndef _NGX_HTTP_TFA_RESEND_SCAN_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_SCAN_H_INCLUDED_


#include <stddef.h>


#define NGX_HTTP_TFA_RESEND_ABSENT  0
#define NGX_HTTP_TFA_RESEND_NULL    1
#define NGX_HTTP_TFA_RESEND_STRING  2
#define NGX_HTTP_TFA_RESEND_OTHER   3     /* a number, true or false */

#define NGX_HTTP_TFA_RESEND_PIN_ID       0
#define NGX_HTTP_TFA_RESEND_TO           1
#define NGX_HTTP_TFA_RESEND_CALL_STATUS  2
#define NGX_HTTP_TFA_RESEND_STATUS       3
#define NGX_HTTP_TFA_RESEND_NFIELDS      4


typedef struct {
    int                                      type;
    const unsigned char                     *data;  /* a STRING's bytes */
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
