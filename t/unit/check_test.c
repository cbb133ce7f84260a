
/*
 * Unit tests for src/ngx_http_tfa_resend_check.c (TAP output).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_tfa_resend_check.h"
#include "tap.h"


#define S(s)  (const unsigned char *) (s), sizeof(s) - 1


typedef struct {
    const char  *uri;
    size_t       len;
    int          rc;
    const char  *pin;
    size_t       pin_len;
    const char  *name;
} uri_case_t;


typedef struct {
    const char  *path;
    size_t       len;
    int          rc;          /* ngx_http_tfa_resend_path_e */
    size_t       prefix_len;  /* EXACT */
    const char  *pin;         /* EXACT */
    size_t       pin_len;
    const char  *reason;      /* NEAR_MISS */
    const char  *name;
} path_case_t;


typedef struct {
    const char  *body;
    size_t       len;
    int          rc;
    const char  *reason;
    const char  *name;
} body_case_t;


typedef struct {
    const char  *data;
    size_t       len;
    int          basic;
    int          rc;
    size_t       out_len;
    const char  *reason;
    const char  *name;
} secret_case_t;


#define U(s)  s, sizeof(s) - 1


static const uri_case_t  uri_cases[] = {
    { U("/2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice"), 1,
      U("9C817C6F8AF3D48F9FE553282AFA2B67"), "uri: v2 shape" },
    { U("/2fa/1/pin/ABC/resend/voice"), 1, U("ABC"), "uri: v1 shape" },
    { U("/2fa/2/pin//resend/voice"), 1, U(""), "uri: empty pinId" },
    { U("/2fa/2/pin/a b%?#/resend/voice"), 1, U("a b%?#"),
      "uri: pinId of odd bytes" },
    { U("/2fa/2/pin/A\0B/resend/voice"), 1, U("A\0B"),
      "uri: pinId with a NUL byte" },
    { U("/2fa/3/pin/ABC/resend/voice"), 0, NULL, 0, "uri: v3 rejected" },
    { U("/2fa/0/pin/ABC/resend/voice"), 0, NULL, 0, "uri: v0 rejected" },
    { U("/2fa/2/pin/ABC/resend/voice/"), 0, NULL, 0,
      "uri: trailing slash rejected" },
    { U("/2fa/2/pin/A/B/resend/voice"), 0, NULL, 0,
      "uri: extra segment in pinId rejected" },
    { U("/2fa/2/pin/ABC/resend/voice/x"), 0, NULL, 0,
      "uri: extra segment after rejected" },
    { U("/x/2fa/2/pin/ABC/resend/voice"), 0, NULL, 0,
      "uri: extra segment before rejected" },
    { U("//2fa/2/pin/ABC/resend/voice"), 0, NULL, 0,
      "uri: double leading slash rejected" },
    { U("/2fa/2/pin/ABC/resend/sms"), 0, NULL, 0, "uri: sms rejected" },
    { U("/2fa/2/pin/ABC/resend/voicex"), 0, NULL, 0, "uri: voicex rejected" },
    { U("/2fa/2/pin/ABC/resend//voice"), 0, NULL, 0,
      "uri: empty segment rejected" },
    { U("/2FA/2/pin/ABC/resend/voice"), 0, NULL, 0,
      "uri: case matters" },
    { U("/2fa/2/pin/ABC/resend/voice?x=1"), 0, NULL, 0,
      "uri: query string is not part of the path" },
    { U("/2fa/2/pin/resend/voice"), 0, NULL, 0, "uri: missing pinId segment" },
    { U("/2fa/2/pin/"), 0, NULL, 0, "uri: prefix only" },
    { U(""), 0, NULL, 0, "uri: empty" },
    { NULL, 0, 0, NULL, 0, NULL }
};


#define EXACT      NGX_HTTP_TFA_RESEND_PATH_EXACT
#define NEAR_MISS  NGX_HTTP_TFA_RESEND_PATH_NEAR_MISS
#define OTHER      NGX_HTTP_TFA_RESEND_PATH_OTHER

#define PIN        "9C817C6F8AF3D48F9FE553282AFA2B67"
#define SHAPE      "not a resend path: /2fa/{1|2}/pin/{pinId}/resend/voice " \
                   "expected"

#define X(s, prefix, pin)  U(s), EXACT, prefix, U(pin), NULL
#define N(s, reason)       U(s), NEAR_MISS, 0, NULL, 0, reason
#define O(s)               U(s), OTHER, 0, NULL, 0, NULL


static const path_case_t  path_cases[] = {

    /* the shape, with and without a prefix */

    { X("/2fa/2/pin/" PIN "/resend/voice", 0, PIN), "path: v2" },
    { X("/2fa/1/pin/ABC/resend/voice", 0, "ABC"), "path: v1" },
    { X("/2fa/2/pin/9c817c6f/resend/voice", 0, "9c817c6f"),
      "path: lower-case pinId left as sent" },
    { X("/otp/2fa/2/pin/" PIN "/resend/voice", 4, PIN),
      "path: prefix /otp" },
    { X("/a/b/c/2fa/1/pin/P/resend/voice", 6, "P"), "path: deep prefix" },
    { X("/2fa/2fa/2/pin/P/resend/voice", 4, "P"), "path: prefix /2fa" },
    { X("//2fa/2/pin/P/resend/voice", 1, "P"), "path: prefix /" },
    { X("/x/2fa/2/pin/A/2fa/2/pin/B/resend/voice", 14, "B"),
      "path: the shape twice, the last one counts" },
    { X("/2fa/2/pin/2fa/resend/voice", 0, "2fa"), "path: pinId 2fa" },
    { X("/2fa/2/pin/resend/resend/voice", 0, "resend"),
      "path: pinId resend" },
    { X("/2fa/2/pin/a b%?#;x=1/resend/voice", 0, "a b%?#;x=1"),
      "path: pinId of odd bytes (the pattern judges them)" },
    { X("/2fa/2/pin/A\0B/resend/voice", 0, "A\0B"),
      "path: pinId with a NUL byte" },
    { X("/\0/2fa/2/pin/P/resend/voice", 2, "P"),
      "path: NUL byte in the prefix" },
    { X("/2fa/2/pin/\xc3\xa9/resend/voice", 0, "\xc3\xa9"),
      "path: UTF-8 pinId" },
    { X("/RESEND/VOICE/2fa/2/pin/P/resend/voice", 13, "P"),
      "path: prefix with the words in it" },

    /* near misses: the issue's list */

    { N("/2fa/2/pin/" PIN "/resend/voice/", SHAPE), "path: trailing slash" },
    { N("/2fa/2/pin/P/resend/voice;jsessionid=1A2B", SHAPE),
      "path: ;jsessionid" },
    { N("/2fa/2/pin/P/resend/voice;", SHAPE), "path: bare ;" },
    { N("/2fa/2/pin/P/resend/VOICE", SHAPE), "path: VOICE" },
    { N("/2fa/2/pin/P/RESEND/VOICE", SHAPE), "path: RESEND/VOICE" },
    { N("/2fa/2/pin/P/Resend/Voice", SHAPE), "path: Resend/Voice" },
    { N("/2fa/2/pin/P/resend//voice", SHAPE), "path: resend//voice" },
    { N("/2fa/2/pin/P//resend/voice", SHAPE), "path: pinId//resend" },
    { N("/2fa/2/pin/P/resend///voice//", SHAPE), "path: runs of slashes" },
    { N("/2fa/2/pin/P/resend/voice/x", SHAPE), "path: resend/voice/x" },
    { N("/2fa/2/pin/P/resend/voicex", SHAPE), "path: resend/voicex" },
    { N("/2fa/2/pin/P/resend/voice.json", SHAPE), "path: resend/voice.json" },
    { N("/pin/P/resend/voice", SHAPE), "path: no /2fa/{v}" },
    { N("/resend/voice", SHAPE), "path: /resend/voice alone" },
    { N("//resend//voice", SHAPE), "path: //resend//voice alone" },
    { N("/2FA/2/pin/P/resend/voice", SHAPE), "path: 2FA" },
    { N("/2fa/2/PIN/P/resend/voice", SHAPE), "path: PIN" },
    { N("/2fa/3/pin/P/resend/voice", SHAPE), "path: version 3" },
    { N("/2fa/0/pin/P/resend/voice", SHAPE), "path: version 0" },
    { N("/2fa/22/pin/P/resend/voice", SHAPE), "path: version 22" },
    { N("/2fa/2/pin/A/B/resend/voice", SHAPE), "path: pinId of two segments" },
    { N("/2fa/2/pin/resend/voice", SHAPE),
      "path: no pinId segment (an empty one after slashes merged)" },
    { N("/2fa/2/pin//resend/voice", "invalid pinId"), "path: empty pinId" },
    { N("/otp/2fa/1/pin//resend/voice", "invalid pinId"),
      "path: empty pinId behind a prefix" },
    { N("x/2fa/2/pin/P/resend/voice", SHAPE),
      "path: a prefix without a leading slash" },
    { N("2fa/2/pin/P/resend/voice", SHAPE), "path: no leading slash" },
    { N("/a\0/resend/voice", SHAPE), "path: NUL byte before" },
    { N("/resend/voice\0", SHAPE), "path: NUL byte after" },
    { N("/otp/resend/voice/2fa/2/pin/P/resend", SHAPE),
      "path: resend/voice in the middle" },
    { N("/2fa/2/pin/P/resend/voice\n", SHAPE), "path: trailing newline" },

    /* other calls and other paths */

    { O("/2fa/2/pin/P/verify"), "path: verify" },
    { O("/2fa/2/pin/P/resend"), "path: resend over SMS" },
    { O("/2fa/2/pin/P/resend/"), "path: resend over SMS, trailing slash" },
    { O("/2fa/2/pin"), "path: send a PIN" },
    { O("/2fa/2/pin/voice"), "path: send a PIN over voice" },
    { O("/2fa/2/pin/P/status"), "path: status" },
    { O("/2fa/2/applications"), "path: applications" },
    { O("/2fa/2/pin/P/resend/sms"), "path: resend/sms" },
    { O("/2fa/2/pin/P/resend/voic"), "path: resend/voic" },
    { O("/2fa/2/pin/P/resendvoice"), "path: resendvoice" },
    { O("/2fa/2/pin/P/xresend/voice"), "path: xresend/voice" },
    { O("/2fa/2/pin/P/resend\0/voice"), "path: NUL byte inside" },
    { O("/2fa/2/pin/P/resend%2Fvoice"), "path: encoded slash, undecoded" },
    { O("/2fa/2/pin/P/resend\\voice"), "path: backslash" },
    { O("/2fa/2/pin/P/resend/vo ice"), "path: space" },
    { O("resend/voice"), "path: no slash before resend" },
    { O("/"), "path: /" },
    { O("//"), "path: //" },
    { O(""), "path: empty" },
    { O("\0"), "path: NUL byte" },
    { NULL, 0, 0, 0, NULL, 0, NULL, NULL }
};


static const body_case_t  body_cases[] = {
    { U(""), 0, NULL, "body: empty is valid" },
    { U("{}"), 0, NULL, "body: {} is valid" },
    { U("{\"placeholders\":{\"firstName\":\"John\"},\"trackDelivery\":false}"),
      0, NULL, "body: documented example is valid" },
    { U(" {\"trackDelivery\":true} \n"), 0, NULL,
      "body: white space around is valid" },
    { U("{\"placeholders\":{}}"), 0, NULL,
      "body: empty placeholders is valid" },
    { U("{\"foo\":[1,{\"x\":null}],\"bar\":1.5}"), 0, NULL,
      "body: unknown keys pass" },
    { U("{\"placeholders\":{\"a\":\"\\u00e9\\ud83d\\ude00\"}}"), 0, NULL,
      "body: escaped unicode is valid" },
    { U("{\"placeholders\":{\"a\":\"caf\xc3\xa9\"}}"), 0, NULL,
      "body: raw UTF-8 is valid" },
    { U("not json"), -1, "body is not valid JSON", "body: garbage" },
    { U("   "), -1, "body is not valid JSON", "body: white space only" },
    { U("{\"a\":1"), -1, "body is not valid JSON", "body: cut short" },
    { U("{} {}"), -1, "body is not valid JSON", "body: trailing data" },
    { U("{\"a\":1,\"a\":2}"), -1, "body is not valid JSON",
      "body: duplicate keys" },
    { U("{\"trackDelivery\":\"x\",\"trackDelivery\":true}"), -1,
      "body is not valid JSON", "body: duplicate known key" },
    { U("{\"a\":\"\xff\"}"), -1, "body is not valid JSON",
      "body: invalid UTF-8" },
    { U("{\"a\":\"\xc0\xaf\"}"), -1, "body is not valid JSON",
      "body: overlong UTF-8" },
    { U("{\"a\":\"\\u0000\"}"), -1, "body is not valid JSON",
      "body: escaped NUL" },
    { U("{\"a\":\"x\0y\"}"), -1, "body is not valid JSON",
      "body: raw NUL byte" },
    { U("{}\0"), -1, "body is not valid JSON", "body: NUL after object" },
    { U("[]"), -1, "body must be a JSON object", "body: array" },
    { U("1"), -1, "body must be a JSON object", "body: number" },
    { U("\"s\""), -1, "body must be a JSON object", "body: string" },
    { U("null"), -1, "body must be a JSON object", "body: null" },
    { U("{\"placeholders\":[]}"), -1,
      "placeholders must be an object of strings", "body: placeholders array" },
    { U("{\"placeholders\":\"x\"}"), -1,
      "placeholders must be an object of strings",
      "body: placeholders string" },
    { U("{\"placeholders\":null}"), -1,
      "placeholders must be an object of strings", "body: placeholders null" },
    { U("{\"placeholders\":{\"a\":\"x\",\"b\":1}}"), -1,
      "placeholders must be an object of strings",
      "body: placeholders number value" },
    { U("{\"placeholders\":{\"a\":null}}"), -1,
      "placeholders must be an object of strings",
      "body: placeholders null value" },
    { U("{\"placeholders\":{\"a\":{\"b\":\"c\"}}}"), -1,
      "placeholders must be an object of strings",
      "body: placeholders nested object" },
    { U("{\"trackDelivery\":\"false\"}"), -1, "trackDelivery must be a boolean",
      "body: trackDelivery string" },
    { U("{\"trackDelivery\":0}"), -1, "trackDelivery must be a boolean",
      "body: trackDelivery number" },
    { U("{\"trackDelivery\":null}"), -1, "trackDelivery must be a boolean",
      "body: trackDelivery null" },
    { U("{\"placeholders\":{},\"trackDelivery\":1}"), -1,
      "trackDelivery must be a boolean",
      "body: good placeholders, bad trackDelivery" },
    { NULL, 0, 0, NULL, NULL }
};


static const secret_case_t  secret_cases[] = {
    { U("user:pass"), 1, 0, 9, NULL, "secret: basic" },
    { U("user:pass\n"), 1, 0, 9, NULL, "secret: basic, trailing LF" },
    { U("user:pass\r\n"), 1, 0, 9, NULL, "secret: basic, trailing CRLF" },
    { U("user:"), 1, 0, 5, NULL, "secret: basic, empty password" },
    { U("user:pa ss:w"), 1, 0, 12, NULL,
      "secret: basic, space and colon in password" },
    { U("us\xc3\xa9r:p\xc3\xa4ss"), 1, 0, 11, NULL, "secret: basic, UTF-8" },
    { U("user:pass\n\n"), 1, -1, 0, "credentials must be a single line",
      "secret: two trailing newlines" },
    { U("user:pass\nmore"), 1, -1, 0, "credentials must be a single line",
      "secret: two lines" },
    { U("user:pass\r"), 1, -1, 0, "credentials must be a single line",
      "secret: lone CR" },
    { U(""), 1, -1, 0, "credentials are empty", "secret: empty" },
    { U("\n"), 1, -1, 0, "credentials are empty", "secret: LF only" },
    { U("\r\n"), 0, -1, 0, "credentials are empty", "secret: CRLF only" },
    { U(":pass"), 1, -1, 0,
      "credentials must be \"username:password\" with a username",
      "secret: basic, empty username" },
    { U("userpass"), 1, -1, 0,
      "credentials must be \"username:password\" with a username",
      "secret: basic, no colon" },
    { U("us\001er:pass"), 1, -1, 0, "credentials contain a control character",
      "secret: basic, control character" },
    { U("user:pa\x7fss"), 1, -1, 0, "credentials contain a control character",
      "secret: basic, DEL" },
    { U("user:pa\0ss"), 1, -1, 0, "credentials contain a control character",
      "secret: basic, NUL" },
    { U("user:pa\tss"), 1, -1, 0, "credentials contain a control character",
      "secret: basic, tab" },
    { U("0123456789abcdef-key"), 0, 0, 20, NULL, "secret: API key" },
    { U("0123456789abcdef-key\n"), 0, 0, 20, NULL, "secret: API key, LF" },
    { U("0123:4567"), 0, 0, 9, NULL, "secret: API key may contain a colon" },
    { U("abc 123"), 0, -1, 0, "API key must not contain spaces",
      "secret: API key with a space" },
    { U(" abc"), 0, -1, 0, "API key must not contain spaces",
      "secret: API key with a leading space" },
    { U("abc\t123"), 0, -1, 0, "credentials contain a control character",
      "secret: API key with a tab" },
    { U("abc\x7f"), 0, -1, 0, "credentials contain a control character",
      "secret: API key with DEL" },
    { NULL, 0, 0, 0, 0, NULL, NULL }
};


static void
test_uri(void)
{
    int                   rc;
    size_t                pin_len;
    const uri_case_t     *c;
    const unsigned char  *pin;

    for (c = uri_cases; c->name; c++) {
        pin = (const unsigned char *) "untouched";
        pin_len = 9;

        rc = ngx_http_tfa_resend_parse_uri((const unsigned char *) c->uri,
                                           c->len, &pin, &pin_len);
        ok(rc == c->rc, c->name);

        if (c->rc) {
            ok(pin_len == c->pin_len && memcmp(pin, c->pin, pin_len) == 0,
               "uri: pinId bytes");

        } else {
            ok(pin_len == 9 && memcmp(pin, "untouched", 9) == 0,
               "uri: pinId untouched on a mismatch");
        }
    }

    ok(ngx_http_tfa_resend_parse_uri(NULL, 0, &pin, &pin_len) == 0,
       "uri: NULL");
    ok(ngx_http_tfa_resend_parse_uri(S("/2fa/2/pin/X/resend/voice"),
                                     NULL, NULL) == 1,
       "uri: NULL out pointers");
}


static void
test_path(void)
{
    int                          rc;
    char                        *big, name[128];
    size_t                       n, i;
    const path_case_t           *c;
    ngx_http_tfa_resend_path_t   m;

    for (c = path_cases; c->name; c++) {
        memset(&m, 0x5a, sizeof(m));

        rc = ngx_http_tfa_resend_match_path((const unsigned char *) c->path,
                                            c->len, &m);
        if (!ok(rc == c->rc, c->name)) {
            printf("#      got: %d\n# expected: %d\n", rc, c->rc);
        }

        if (c->rc == EXACT) {
            ok(m.prefix_len == c->prefix_len, "path: prefix length");
            ok(m.pin_len == c->pin_len
               && memcmp(c->path + m.pin_off, c->pin, c->pin_len) == 0,
               "path: pinId");
            ok(m.reason == NULL, "path: no reason");

        } else {
            ok(m.prefix_len == 0 && m.pin_off == 0 && m.pin_len == 0,
               "path: no offsets");
            is(m.reason, c->reason, "path: reason");
        }
    }

    ok(ngx_http_tfa_resend_match_path(NULL, 0, &m) == OTHER
       && m.reason == NULL, "path: NULL");
    ok(ngx_http_tfa_resend_match_path(S("/2fa/2/pin/P/resend/voice"), NULL)
       == EXACT, "path: NULL result");
    ok(ngx_http_tfa_resend_match_path(S("/2fa/2/pin/P/resend/voice/"), NULL)
       == NEAR_MISS, "path: NULL result, near miss");

    /* every shorter piece of the shape is another path or a near miss */

    for (i = 0; i < sizeof("/2fa/2/pin/P/resend/voice") - 1; i++) {
        rc = ngx_http_tfa_resend_match_path(
                 (const unsigned char *) "/2fa/2/pin/P/resend/voice", i, &m);
        snprintf(name, sizeof(name),
                 "path: the shape's first %zu bytes are another path", i);
        ok(rc == OTHER, name);
    }

    /* long paths: 1 MB of prefix, of slashes, of almost-matches */

    n = 1024 * 1024;
    big = malloc(n + 64);

    memset(big, '/', n);
    memcpy(big + n, "2fa/2/pin/P/resend/voice", 24);
    rc = ngx_http_tfa_resend_match_path((unsigned char *) big, n + 24, &m);
    ok(rc == EXACT && m.prefix_len == n - 1 && m.pin_off == n + 10
       && m.pin_len == 1, "path: 1 MB of slashes, then the shape");

    rc = ngx_http_tfa_resend_match_path((unsigned char *) big, n, &m);
    ok(rc == OTHER, "path: 1 MB of slashes");

    memcpy(big, "/resend", 7);
    memcpy(big + n, "voice", 5);
    rc = ngx_http_tfa_resend_match_path((unsigned char *) big, n + 5, &m);
    ok(rc == NEAR_MISS, "path: /resend, 1 MB of slashes, voice");

    for (i = 0; i + 7 <= n; i += 7) {
        memcpy(big + i, "/resend", 7);
    }

    rc = ngx_http_tfa_resend_match_path((unsigned char *) big, i, &m);
    ok(rc == OTHER, "path: 1 MB of /resend");

    memcpy(big + i, "/voice", 6);
    rc = ngx_http_tfa_resend_match_path((unsigned char *) big, i + 6, &m);
    ok(rc == NEAR_MISS, "path: 1 MB of /resend, then /voice");

    memset(big, 'a', n);
    big[0] = '/';
    memcpy(big + n, "/2fa/1/pin/P/resend/voice", 25);
    rc = ngx_http_tfa_resend_match_path((unsigned char *) big, n + 25, &m);
    ok(rc == EXACT && m.prefix_len == n && m.pin_off == n + 11,
       "path: 1 MB prefix segment");

    memset(big, 'a', n);
    memcpy(big, "/2fa/2/pin/", 11);
    memcpy(big + n, "/resend/voice", 13);
    rc = ngx_http_tfa_resend_match_path((unsigned char *) big, n + 13, &m);
    ok(rc == EXACT && m.prefix_len == 0 && m.pin_off == 11
       && m.pin_len == n - 11, "path: 1 MB pinId");

    free(big);
}


static void
test_fold(void)
{
    unsigned char  buf[64], *end;

    static const unsigned char  mixed[] = "9c817C6F-zZ_aA\xc3\xa9\xe9\0@[`{";
    static const unsigned char  upper[] = "9C817C6F-ZZ_AA\xc3\xa9\xe9\0@[`{";
    static const unsigned char  lower[] = "9c817c6f-zz_aa\xc3\xa9\xe9\0@[`{";

    /* bytes next to the letters ('@', '[', '`', '{'), UTF-8, NUL stay */

    end = ngx_http_tfa_resend_fold_pin(buf, mixed, sizeof(mixed) - 1,
                                       NGX_HTTP_TFA_RESEND_PIN_CASE_UPPER);
    ok(end == buf + sizeof(mixed) - 1, "fold: returns the end");
    ok(memcmp(buf, upper, sizeof(upper) - 1) == 0,
       "fold: upper, ASCII letters only");

    end = ngx_http_tfa_resend_fold_pin(buf, mixed, sizeof(mixed) - 1,
                                       NGX_HTTP_TFA_RESEND_PIN_CASE_LOWER);
    ok(memcmp(buf, lower, sizeof(lower) - 1) == 0,
       "fold: lower, ASCII letters only");

    end = ngx_http_tfa_resend_fold_pin(buf, mixed, sizeof(mixed) - 1,
                                       NGX_HTTP_TFA_RESEND_PIN_CASE_OFF);
    ok(memcmp(buf, mixed, sizeof(mixed) - 1) == 0,
       "fold: off copies the bytes");

    memcpy(buf, "abcXYZ", 6);
    end = ngx_http_tfa_resend_fold_pin(buf, buf, 6,
                                       NGX_HTTP_TFA_RESEND_PIN_CASE_UPPER);
    is_n(buf, end - buf, "ABCXYZ", "fold: upper in place");

    end = ngx_http_tfa_resend_fold_pin(buf, buf, 6,
                                       NGX_HTTP_TFA_RESEND_PIN_CASE_LOWER);
    is_n(buf, end - buf, "abcxyz", "fold: lower in place");

    memcpy(buf, "aB", 2);
    end = ngx_http_tfa_resend_fold_pin(buf, buf, 2,
                                       (ngx_http_tfa_resend_pin_case_e) 7);
    is_n(buf, end - buf, "aB", "fold: an unknown mode copies");

    end = ngx_http_tfa_resend_fold_pin(buf, buf, 0,
                                       NGX_HTTP_TFA_RESEND_PIN_CASE_UPPER);
    ok(end == buf, "fold: empty");

    ok(NGX_HTTP_TFA_RESEND_PIN_CASE_OFF != NGX_HTTP_TFA_RESEND_PIN_CASE_UPPER
       && NGX_HTTP_TFA_RESEND_PIN_CASE_UPPER
          != NGX_HTTP_TFA_RESEND_PIN_CASE_LOWER
       && NGX_HTTP_TFA_RESEND_PIN_CASE_OFF
          != NGX_HTTP_TFA_RESEND_PIN_CASE_LOWER,
       "fold: three distinct modes");
}


static void
test_pattern(void)
{
    char                            err[256];
    ngx_http_tfa_resend_pattern_t  *p;

    p = ngx_http_tfa_resend_pattern_compile(
            S(NGX_HTTP_TFA_RESEND_PIN_PATTERN), err, sizeof(err));
    ok(p != NULL, "pattern: default compiles");

    ok(ngx_http_tfa_resend_pattern_match(p,
           S("9C817C6F8AF3D48F9FE553282AFA2B67")) == 1,
       "pattern: default, upper-case hex");
    ok(ngx_http_tfa_resend_pattern_match(p,
           S("9c817c6f8af3d48f9fe553282afa2b67")) == 1,
       "pattern: default, lower-case hex");
    ok(ngx_http_tfa_resend_pattern_match(p,
           S("9C817C6F8AF3D48F9FE553282AFA2B6")) == 0,
       "pattern: default, 31 characters");
    ok(ngx_http_tfa_resend_pattern_match(p,
           S("9C817C6F8AF3D48F9FE553282AFA2B670")) == 0,
       "pattern: default, 33 characters");
    ok(ngx_http_tfa_resend_pattern_match(p,
           S("9C817C6F8AF3D48F9FE553282AFA2B6G")) == 0,
       "pattern: default, non-hex character");
    ok(ngx_http_tfa_resend_pattern_match(p,
           S("9C817C6F8AF3D48F9FE553282AFA2B67\n")) == 0,
       "pattern: default, trailing newline");
    ok(ngx_http_tfa_resend_pattern_match(p,
           S("9C817C6F8AF3D48F9FE553282AFA2B67\0")) == 0,
       "pattern: default, trailing NUL");
    ok(ngx_http_tfa_resend_pattern_match(p, S("")) == 0,
       "pattern: default, empty");
    ok(ngx_http_tfa_resend_pattern_match(p, NULL, 0) == 0,
       "pattern: default, NULL subject");

    ngx_http_tfa_resend_pattern_free(p);

    p = ngx_http_tfa_resend_pattern_compile(S("^[A-Z]+"), err, sizeof(err));
    ok(p != NULL, "pattern: custom compiles");
    ok(ngx_http_tfa_resend_pattern_match(p, S("ABC")) == 1,
       "pattern: custom matches");
    ok(ngx_http_tfa_resend_pattern_match(p, S("abc")) == 0,
       "pattern: custom is case-sensitive");
    ok(ngx_http_tfa_resend_pattern_match(p, S("ABC\0DEF")) == 0,
       "pattern: NUL byte never matches, even when unanchored");
    ok(ngx_http_tfa_resend_pattern_match(p, S("AB\xff")) == 1,
       "pattern: bytes, not UTF-8");
    ngx_http_tfa_resend_pattern_free(p);

    p = ngx_http_tfa_resend_pattern_compile(S("x$"), err, sizeof(err));
    ok(ngx_http_tfa_resend_pattern_match(p, S("ax\n")) == 0,
       "pattern: $ does not match before a final newline");
    ok(ngx_http_tfa_resend_pattern_match(p, S("ax")) == 1,
       "pattern: $ matches at the end");
    ngx_http_tfa_resend_pattern_free(p);

    p = ngx_http_tfa_resend_pattern_compile(S("^$"), err, sizeof(err));
    ok(ngx_http_tfa_resend_pattern_match(p, S("")) == 1,
       "pattern: empty subject can match");
    ngx_http_tfa_resend_pattern_free(p);

    p = ngx_http_tfa_resend_pattern_compile_ex(S("^abc$"), 1, err,
                                               sizeof(err));
    ok(ngx_http_tfa_resend_pattern_match(p, S("AbC")) == 1,
       "pattern: caseless");
    ngx_http_tfa_resend_pattern_free(p);

    /* a pattern may turn UTF on itself: the subject is then checked */

    p = ngx_http_tfa_resend_pattern_compile(S("(*UTF)^.+$"), err,
                                            sizeof(err));
    ok(p != NULL, "pattern: (*UTF) compiles");
    ok(ngx_http_tfa_resend_pattern_match(p, S("ab\xc3\xa9")) == 1,
       "pattern: (*UTF), valid UTF-8 matches");
    ok(ngx_http_tfa_resend_pattern_match(p, S("ab\xc3")) == 0,
       "pattern: (*UTF), truncated UTF-8 never matches");
    ok(ngx_http_tfa_resend_pattern_match(p, S("\xed\xa0\x80")) == 0,
       "pattern: (*UTF), a surrogate never matches");
    ngx_http_tfa_resend_pattern_free(p);

    err[0] = '\0';
    p = ngx_http_tfa_resend_pattern_compile(S("^(ab"), err, sizeof(err));
    ok(p == NULL, "pattern: bad regex rejected");
    is(err, "invalid regex \"^(ab\": missing closing parenthesis at offset 4",
       "pattern: bad regex message");

    p = ngx_http_tfa_resend_pattern_compile(S("[z-a]"), err, 8);
    ok(p == NULL && strlen(err) == 7, "pattern: error message truncated");

    ok(ngx_http_tfa_resend_pattern_match(NULL, S("x")) == 0,
       "pattern: NULL pattern never matches");

    ngx_http_tfa_resend_pattern_free(NULL);
}


static void
test_body(void)
{
    int                 rc;
    char                reason[128], small[5], *big;
    size_t              i, n;
    const body_case_t  *c;

    for (c = body_cases; c->name; c++) {
        strcpy(reason, "-");

        rc = ngx_http_tfa_resend_check_body((const unsigned char *) c->body,
                                            c->len, reason, sizeof(reason));
        ok(rc == c->rc, c->name);
        is(reason, c->reason ? c->reason : "-", "body: reason");
    }

    /* 10,000-deep nesting, arrays and objects */

    n = 10000;
    big = malloc(n * 8 + 16);

    memset(big, '[', n);
    memset(big + n, ']', n);
    rc = ngx_http_tfa_resend_check_body((unsigned char *) big, 2 * n,
                                        reason, sizeof(reason));
    ok(rc == -1, "body: 10000-deep arrays rejected");
    is(reason, "body is not valid JSON", "body: deep arrays reason");

    for (i = 0; i < n; i++) {
        memcpy(big + i * 5, "{\"a\":", 5);
    }

    memcpy(big + n * 5, "1", 1);
    memset(big + n * 5 + 1, '}', n);
    rc = ngx_http_tfa_resend_check_body((unsigned char *) big, n * 6 + 1,
                                        reason, sizeof(reason));
    ok(rc == -1, "body: 10000-deep objects rejected");

    memcpy(big, "{\"placeholders\":{\"x\":[[[1]]]}}", 30);
    rc = ngx_http_tfa_resend_check_body((unsigned char *) big, 30,
                                        reason, sizeof(reason));
    is(reason, "placeholders must be an object of strings",
       "body: shallow nesting in placeholders");

    free(big);

    /* a 4 MB string */

    n = 4 * 1024 * 1024;
    big = malloc(n + 64);
    memcpy(big, "{\"x\":\"", 6);
    memset(big + 6, 'a', n);
    memcpy(big + 6 + n, "\"}", 2);
    rc = ngx_http_tfa_resend_check_body((unsigned char *) big, n + 8,
                                        reason, sizeof(reason));
    ok(rc == 0, "body: huge string in an unknown key passes");

    memcpy(big, "{\"placeholders\":{\"x\":", 21);
    memset(big + 21, '1', n);
    memcpy(big + 21 + n, "}}", 2);
    rc = ngx_http_tfa_resend_check_body((unsigned char *) big, n + 23,
                                        reason, sizeof(reason));
    ok(rc == -1, "body: huge number in placeholders rejected");
    free(big);

    rc = ngx_http_tfa_resend_check_body(S("[]"), small, sizeof(small));
    ok(rc == -1 && strcmp(small, "body") == 0, "body: reason truncated");

    rc = ngx_http_tfa_resend_check_body(S("[]"), NULL, 0);
    ok(rc == -1, "body: NULL reason");

    rc = ngx_http_tfa_resend_check_body(NULL, 0, NULL, 0);
    ok(rc == 0, "body: NULL empty body");
}


static void
test_secret(void)
{
    int                   rc;
    char                  reason[128];
    size_t                out_len;
    const secret_case_t  *c;

    for (c = secret_cases; c->name; c++) {
        strcpy(reason, "-");
        out_len = 12345;

        rc = ngx_http_tfa_resend_parse_secret((const unsigned char *) c->data,
                                              c->len, c->basic, &out_len,
                                              reason, sizeof(reason));
        ok(rc == c->rc, c->name);

        if (rc == 0) {
            ok(out_len == c->out_len, "secret: length");

        } else {
            is(reason, c->reason, "secret: reason");
        }
    }

    rc = ngx_http_tfa_resend_parse_secret(S("s3cr3t-value x"), 0, &out_len,
                                          reason, sizeof(reason));
    ok(rc == -1 && strstr(reason, "s3cr3t") == NULL,
       "secret: reason does not quote the key");

    rc = ngx_http_tfa_resend_parse_secret(S("s3cr3t-value"), 1, &out_len,
                                          reason, sizeof(reason));
    ok(rc == -1 && strstr(reason, "s3cr3t") == NULL,
       "secret: reason does not quote the basic secret");

    rc = ngx_http_tfa_resend_parse_secret(S("k"), 0, NULL, NULL, 0);
    ok(rc == 0, "secret: NULL out pointers");
}


int
main(void)
{
    test_uri();
    test_path();
    test_fold();
    test_pattern();
    test_body();
    test_secret();

    return done_testing();
}
