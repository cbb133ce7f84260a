
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
    test_pattern();
    test_body();
    test_secret();

    return done_testing();
}
