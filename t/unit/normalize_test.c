
/*
 * Unit tests for the normalizer (TAP output): its entry points in
 * src/ngx_http_tfa_resend_normalize.c, the status map, the scanner.  The
 * canonical bodies are compared byte for byte.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_tfa_resend_normalize.h"
#include "tap.h"


#define S(s)  (const unsigned char *) (s), sizeof(s) - 1
#define PIN   "9C817C6F8AF3D48F9FE553282AFA2B67"
#define REQ   "REQPIN"


typedef struct {
    const char  *in;
    const char  *out;
} map_case_t;


typedef struct {
    int          status;
    const char  *body;
    size_t       body_len;
    const char  *content_type;
    const char  *expected_body;
    int          expected_status;
    const char  *expected_call_status;
    const char  *expected_message_id;
    const char  *name;
} norm_case_t;


#define B(s)  s, sizeof(s) - 1


/* every row of the built-in table, and the rows around it */

static const map_case_t  builtin_cases[] = {
    { "BAD_REQUEST", "BAD_REQUEST" },
    { "PROCESSING", "PROCESSING" },
    { "PROCESSED", "PROCESSED" },
    { "ANSWERED_MACHINE", "ANSWERED_MACHINE" },
    { "ERROR", "ERROR" },
    { "ERROR_NOT_ENOUGH_CREDITS", "ERROR_NOT_ENOUGH_CREDITS" },
    { "ERROR_NETWORK_NOT_AVAILABLE", "ERROR_NETWORK_NOT_AVAILABLE" },
    { "ERROR_ROUTE_NOT_AVAILABLE", "ERROR_ROUTE_NOT_AVAILABLE" },
    { "ERROR_USER_BUSY", "ERROR_USER_BUSY" },
    { "ERROR_NO_ANSWER", "ERROR_NO_ANSWER" },
    { "UNDEFINED", "UNDEFINED" },
    { "processing", "PROCESSING" },
    { " \t Error_User_Busy \r\n", "ERROR_USER_BUSY" },

    { "PENDING", "PROCESSING" },
    { "PENDING_ACCEPTED", "PROCESSING" },
    { "pending_enroute", "PROCESSING" },
    { "PENDING_", "PROCESSING" },
    { "PENDINGX", "UNDEFINED" },
    { "ACCEPTED", "PROCESSING" },
    { "MESSAGE_SENT", "PROCESSING" },
    { "SENT", "PROCESSING" },
    { "  sent  ", "PROCESSING" },
    { "SENTX", "UNDEFINED" },
    { "XSENT", "UNDEFINED" },

    { "DELIVERED", "PROCESSED" },
    { "DELIVERED_TO_HANDSET", "PROCESSED" },
    { "DELIVEREDX", "UNDEFINED" },
    { "ANSWERED", "PROCESSED" },
    { "ANSWERED_HUMAN", "PROCESSED" },
    { "COMPLETED", "PROCESSED" },

    { "MACHINE", "ANSWERED_MACHINE" },
    { "ANSWERED_BY_MACHINE", "ANSWERED_MACHINE" },
    { "VoiceMail", "ANSWERED_MACHINE" },

    { "NOT_ENOUGH_CREDITS", "ERROR_NOT_ENOUGH_CREDITS" },
    { "REJECTED_NOT_ENOUGH_CREDITS", "ERROR_NOT_ENOUGH_CREDITS" },
    { "x_not_enough_credits_y", "ERROR_NOT_ENOUGH_CREDITS" },
    { "INSUFFICIENT_FUNDS", "ERROR_NOT_ENOUGH_CREDITS" },
    { "INSUFFICIENT_FUNDSX", "UNDEFINED" },

    { "NETWORK_NOT_AVAILABLE", "ERROR_NETWORK_NOT_AVAILABLE" },
    { "UNDELIVERABLE_NETWORK_NOT_AVAILABLE", "ERROR_NETWORK_NOT_AVAILABLE" },
    { "NETWORK_NOT_ALLOWED", "ERROR_NETWORK_NOT_AVAILABLE" },
    { "REJECTED_NETWORK_NOT_ALLOWED_X", "ERROR_NETWORK_NOT_AVAILABLE" },

    { "ROUTE_NOT_AVAILABLE", "ERROR_ROUTE_NOT_AVAILABLE" },
    { "REJECTED_ROUTE_NOT_AVAILABLE", "ERROR_ROUTE_NOT_AVAILABLE" },
    { "NO_ROUTE", "ERROR_ROUTE_NOT_AVAILABLE" },
    { "NO_ROUTES", "UNDEFINED" },

    { "USER_BUSY", "ERROR_USER_BUSY" },
    { "UNDELIVERABLE_USER_BUSY", "ERROR_USER_BUSY" },
    { "BUSY", "ERROR_USER_BUSY" },
    { "XBUSY", "UNDEFINED" },

    { "NO_ANSWER", "ERROR_NO_ANSWER" },
    { "UNDELIVERABLE_NO_ANSWER", "ERROR_NO_ANSWER" },

    { "UNDELIVERABLE", "ERROR" },
    { "UNDELIVERABLE_REJECTED_OPERATOR", "ERROR" },
    { "REJECTED", "ERROR" },
    { "REJECTED_DESTINATION", "ERROR" },
    { "EXPIRED", "ERROR" },
    { "EXPIRED_EXPIRED", "ERROR" },
    { "FAILED", "ERROR" },
    { "failed_x", "ERROR" },
    { "XFAILED", "UNDEFINED" },

    { "CANCELLED", "UNDEFINED" },
    { "", "UNDEFINED" },
    { "   ", "UNDEFINED" },
    { "PROCESSING\x01", "UNDEFINED" },
    { NULL, NULL }
};


static const char  ok_body[] =
    "{\"pinId\":\"" PIN "\",\"to\":\"41793026727\","
    "\"callStatus\":\"PENDING_ACCEPTED\"}";


static const norm_case_t  norm_cases[] = {

    /* success */

    { 200, B(ok_body), "application/json",
      "{\"pinId\":\"" PIN "\",\"to\":\"41793026727\","
      "\"callStatus\":\"PROCESSING\"}",
      200, "PROCESSING", NULL, "ok: Infobip example" },

    { 200, B("{\"extra\":1,\"callStatus\":\"DELIVERED\",\"to\":\"1\","
             "\"smsStatus\":\"x\",\"pinId\":\"P\"}"), NULL,
      "{\"pinId\":\"P\",\"to\":\"1\",\"callStatus\":\"PROCESSED\"}",
      200, "PROCESSED", NULL, "ok: key order and extra keys dropped" },

    { 200, B("{\"callStatus\":\"SENT\"}"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"PROCESSING\"}",
      200, "PROCESSING", NULL, "ok: pinId from the request, to null" },

    { 200, B("{\"pinId\":\"\",\"callStatus\":\"SENT\"}"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"PROCESSING\"}",
      200, "PROCESSING", NULL, "ok: empty upstream pinId" },

    { 200, B("{\"pinId\":42,\"to\":41793026727,\"callStatus\":\"SENT\"}"),
      NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"PROCESSING\"}",
      200, "PROCESSING", NULL, "ok: non-string pinId and to" },

    { 200, B("{\"pinId\":\"A\\u0000B\",\"to\":\"\\u00e9\",\"callStatus\":"
             "\"SENT\"}"), NULL,
      "{\"pinId\":\"A\\u0000B\",\"to\":\"\xc3\xa9\",\"callStatus\":"
      "\"PROCESSING\"}",
      200, "PROCESSING", NULL, "ok: escaped NUL kept escaped" },

    { 200, B("{\"callStatus\":{\"name\":\"DELIVERED_TO_HANDSET\","
             "\"groupName\":\"PENDING\",\"description\":\"x\"}}"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"PROCESSED\"}",
      200, "PROCESSED", NULL, "ok: status object, name" },

    { 200, B("{\"callStatus\":{\"groupName\":\"PENDING\"}}"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"PROCESSING\"}",
      200, "PROCESSING", NULL, "ok: status object, groupName" },

    { 200, B("{\"callStatus\":{\"name\":\" \",\"groupName\":\"EXPIRED\"}}"),
      NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"ERROR\"}",
      200, "ERROR", NULL, "ok: status object, blank name" },

    { 200, B("{\"callStatus\":{\"name\":1,\"groupName\":\"BUSY\"}}"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"ERROR_USER_BUSY\"}",
      200, "ERROR_USER_BUSY", NULL, "ok: status object, non-string name" },

    { 200, B("{\"callStatus\":{\"description\":\"x\"}}"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"UNDEFINED\"}",
      200, "UNDEFINED", NULL, "ok: status object, no name" },

    { 200, B("{\"status\":\"MESSAGE_SENT\"}"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"PROCESSING\"}",
      200, "PROCESSING", NULL, "ok: status key" },

    { 200, B("{\"status\":{\"name\":\"VOICEMAIL\"}}"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,"
      "\"callStatus\":\"ANSWERED_MACHINE\"}",
      200, "ANSWERED_MACHINE", NULL, "ok: status key, object" },

    { 200, B("{\"callStatus\":null,\"smsStatus\":\"MESSAGE_SENT\","
             "\"status\":\"NO_ANSWER\"}"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"ERROR_NO_ANSWER\"}",
      200, "ERROR_NO_ANSWER", NULL, "ok: null callStatus falls to status" },

    { 200, B("{\"callStatus\":\"SENT\",\"status\":\"BUSY\"}"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"PROCESSING\"}",
      200, "PROCESSING", NULL, "ok: callStatus before status" },

    { 200, B("{\"callStatus\":3,\"status\":\"BUSY\"}"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"UNDEFINED\"}",
      200, "UNDEFINED", NULL, "ok: non-string callStatus" },

    { 200, B("{\"smsStatus\":\"MESSAGE_SENT\"}"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"UNDEFINED\"}",
      200, "UNDEFINED", NULL, "ok: no status" },

    { 200, B("{\"callStatus\":\"SENT\",\"requestError\":{\"serviceException\":"
             "{\"messageId\":\"X\"}}}"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"PROCESSING\"}",
      200, "PROCESSING", NULL, "ok: no requestError below 400" },

    { 201, B("{\"callStatus\":\"SENT\"}"), "text/html",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"PROCESSING\"}",
      201, "PROCESSING", NULL, "ok: status kept, Content-Type not needed" },

    /* unusable */

    { 200, B(""), "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"ERROR\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"UPSTREAM_ERROR\",\"text\":\"upstream answer is empty\"}}}",
      502, "ERROR", "UPSTREAM_ERROR", "unusable: empty" },

    { 204, B(""), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"ERROR\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"UPSTREAM_ERROR\",\"text\":\"upstream answer is empty\"}}}",
      502, "ERROR", "UPSTREAM_ERROR", "unusable: 204" },

    { 200, B("<html>oops</html>"), "text/html",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"ERROR\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"UPSTREAM_ERROR\",\"text\":\"upstream answer is not valid JSON\"}}}",
      502, "ERROR", "UPSTREAM_ERROR", "unusable: garbage" },

    { 200, B("{\"pinId\":\"P\",\"callStatus\":\"SEN"), "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"ERROR\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"UPSTREAM_ERROR\",\"text\":\"upstream answer is not valid JSON\"}}}",
      502, "ERROR", "UPSTREAM_ERROR", "unusable: cut short" },

    { 200, B("{\"pinId\":\"P\xff\",\"callStatus\":\"SENT\"}"),
      "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"ERROR\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"UPSTREAM_ERROR\",\"text\":\"upstream answer is not valid JSON\"}}}",
      502, "ERROR", "UPSTREAM_ERROR", "unusable: invalid UTF-8" },

    { 200, B("{\"a\":1}\0"), "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"ERROR\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"UPSTREAM_ERROR\",\"text\":\"upstream answer is not valid JSON\"}}}",
      502, "ERROR", "UPSTREAM_ERROR", "unusable: NUL byte" },

    { 200, B("[{\"callStatus\":\"SENT\"}]"), "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"ERROR\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"UPSTREAM_ERROR\",\"text\":\"upstream answer is not a JSON object\"}}}",
      502, "ERROR", "UPSTREAM_ERROR", "unusable: array" },

    { 200, B("\"SENT\""), "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"ERROR\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"UPSTREAM_ERROR\",\"text\":\"upstream answer is not a JSON object\"}}}",
      502, "ERROR", "UPSTREAM_ERROR", "unusable: string" },

    /* the 2FA API's error object */

    { 400, B("{\"requestError\":{\"serviceException\":{\"messageId\":"
             "\"BAD_REQUEST\",\"text\":\"Bad request\"}}}"), "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"BAD_REQUEST\",\"text\":\"Bad request\"}}}",
      400, "BAD_REQUEST", "BAD_REQUEST", "error: Infobip 400" },

    { 401, B("{\"requestError\":{\"serviceException\":{\"text\":"
             "\"Invalid login details\",\"messageId\":\"UNAUTHORIZED\","
             "\"extra\":1}}}"), "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"UNAUTHORIZED\",\"text\":\"Invalid login details\"}}}",
      401, "BAD_REQUEST", "UNAUTHORIZED", "error: Infobip 401, key order" },

    { 400, B("{\"requestError\":{\"serviceException\":{\"messageId\":"
             "\"BAD_REQUEST\",\"text\":\"Bad request\",\"validationErrors\":"
             "{\"pinId\":[\"size must be 32\"]}}}}"), "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"BAD_REQUEST\",\"text\":\"Bad request\",\"validationErrors\":"
      "{\"pinId\":[\"size must be 32\"]}}}}",
      400, "BAD_REQUEST", "BAD_REQUEST", "error: validationErrors kept" },

    { 400, B("{\"requestError\":{\"serviceException\":{\"messageId\":"
             "\"BAD_REQUEST\",\"text\":\"x\",\"validationErrors\":null}}}"),
      "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"BAD_REQUEST\",\"text\":\"x\"}}}",
      400, "BAD_REQUEST", "BAD_REQUEST", "error: null validationErrors" },

    { 429, B("{\"requestError\":{\"serviceException\":{\"messageId\":"
             "\"TOO_MANY_REQUESTS\",\"text\":\"Too many requests\"}}}"),
      "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"TOO_MANY_REQUESTS\",\"text\":\"Too many requests\"}}}",
      429, "BAD_REQUEST", "TOO_MANY_REQUESTS", "error: Infobip 429" },

    { 500, B("{\"requestError\":{\"serviceException\":{\"messageId\":"
             "\"GENERAL_ERROR\",\"text\":\"Something went wrong.\"}}}"),
      "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"ERROR\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"GENERAL_ERROR\",\"text\":\"Something went wrong.\"}}}",
      500, "ERROR", "GENERAL_ERROR", "error: Infobip 500" },

    { 403, B("{\"requestError\":{\"serviceException\":{\"messageId\":"
             "\"REJECTED_NOT_ENOUGH_CREDITS\",\"text\":\"No credit\"}}}"),
      "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,"
      "\"callStatus\":\"ERROR_NOT_ENOUGH_CREDITS\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"REJECTED_NOT_ENOUGH_CREDITS\",\"text\":\"No credit\"}}}",
      403, "ERROR_NOT_ENOUGH_CREDITS", "REJECTED_NOT_ENOUGH_CREDITS",
      "error: messageId says NOT_ENOUGH_CREDITS" },

    { 500, B("{\"requestError\":{\"serviceException\":{\"messageId\":"
             "\"insufficient_funds\",\"text\":\"x\"}}}"), "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,"
      "\"callStatus\":\"ERROR_NOT_ENOUGH_CREDITS\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"insufficient_funds\",\"text\":\"x\"}}}",
      500, "ERROR_NOT_ENOUGH_CREDITS", "insufficient_funds",
      "error: messageId says INSUFFICIENT_FUNDS" },

    { 404, B("{\"requestError\":{\"serviceException\":{}}}"),
      "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"NOT_FOUND\",\"text\":\"Not found\"}}}",
      404, "BAD_REQUEST", "NOT_FOUND", "error: empty serviceException" },

    { 404, B("{\"requestError\":{\"serviceException\":{\"messageId\":\"\","
             "\"text\":null}}}"), "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"NOT_FOUND\",\"text\":\"Not found\"}}}",
      404, "BAD_REQUEST", "NOT_FOUND", "error: empty messageId, null text" },

    { 400, B("{\"pinId\":\"P\",\"to\":\"385\",\"callStatus\":\"NO_ANSWER\","
             "\"requestError\":{\"serviceException\":{\"messageId\":"
             "\"BAD_REQUEST\",\"text\":\"t\"}}}"), "application/json",
      "{\"pinId\":\"P\",\"to\":\"385\",\"callStatus\":\"ERROR_NO_ANSWER\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"BAD_REQUEST\",\"text\":\"t\"}}}",
      400, "ERROR_NO_ANSWER", "BAD_REQUEST",
      "error: upstream status, pinId and to kept" },

    { 402, B("{\"status\":{\"groupName\":\"REJECTED\"},\"requestError\":"
             "{\"serviceException\":{\"messageId\":\"NOT_ENOUGH_CREDITS\"}}}"),
      "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"ERROR\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"NOT_ENOUGH_CREDITS\",\"text\":\"Bad request\"}}}",
      402, "ERROR", "NOT_ENOUGH_CREDITS",
      "error: a body status wins over the messageId" },

    { 400, B("{\"callStatus\":\"  \",\"requestError\":{\"serviceException\":"
             "{\"messageId\":\"INSUFFICIENT_FUNDS\"}}}"), "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,"
      "\"callStatus\":\"ERROR_NOT_ENOUGH_CREDITS\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"INSUFFICIENT_FUNDS\",\"text\":\"Bad request\"}}}",
      400, "ERROR_NOT_ENOUGH_CREDITS", "INSUFFICIENT_FUNDS",
      "error: a blank body status is no status" },

    /* the newer errorCode shape */

    { 400, B("{\"errorCode\":\"E400\",\"description\":\"Request cannot be "
             "processed.\",\"action\":\"Check the syntax\",\"violations\":[],"
             "\"resources\":[]}"), "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"BAD_REQUEST\",\"text\":\"Request cannot be processed.\"}}}",
      400, "BAD_REQUEST", "BAD_REQUEST", "errorCode: E400" },

    { 401, B("{\"errorCode\":\"E401\",\"description\":\"d\"}"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"UNAUTHORIZED\",\"text\":\"d\"}}}",
      401, "BAD_REQUEST", "UNAUTHORIZED", "errorCode: E401" },

    { 403, B("{\"errorCode\":\"E403\",\"description\":\"d\"}"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"FORBIDDEN\",\"text\":\"d\"}}}",
      403, "BAD_REQUEST", "FORBIDDEN", "errorCode: E403" },

    { 404, B("{\"errorCode\":\"E404\",\"description\":\"d\"}"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"NOT_FOUND\",\"text\":\"d\"}}}",
      404, "BAD_REQUEST", "NOT_FOUND", "errorCode: E404" },

    { 429, B("{\"errorCode\":\"E429\",\"description\":"
             "\"Too many requests sent.\"}"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"TOO_MANY_REQUESTS\",\"text\":\"Too many requests sent.\"}}}",
      429, "BAD_REQUEST", "TOO_MANY_REQUESTS", "errorCode: E429" },

    { 500, B("{\"errorCode\":\"E500\",\"description\":\"d\"}"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"ERROR\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"GENERAL_ERROR\",\"text\":\"d\"}}}",
      500, "ERROR", "GENERAL_ERROR", "errorCode: E500" },

    { 418, B("{\"errorCode\":\"E418\"}"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"E418\",\"text\":\"Bad request\"}}}",
      418, "BAD_REQUEST", "E418", "errorCode: other code kept, no text" },

    { 400, B("{\"errorCode\":\"e400\",\"description\":5}"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"e400\",\"text\":\"Bad request\"}}}",
      400, "BAD_REQUEST", "e400", "errorCode: codes are case-sensitive" },

    { 404, B("{\"errorCode\":404,\"message\":\"m\"}"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"NOT_FOUND\",\"text\":\"m\"}}}",
      404, "BAD_REQUEST", "NOT_FOUND", "errorCode: a number is not the shape" },

    /* error / message */

    { 401, B("{\"error\":\"invalid token\"}"), "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"UNAUTHORIZED\",\"text\":\"invalid token\"}}}",
      401, "BAD_REQUEST", "UNAUTHORIZED", "error: JSON error string" },

    { 404, B("{\"message\":\"No route\"}"), "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"NOT_FOUND\",\"text\":\"No route\"}}}",
      404, "BAD_REQUEST", "NOT_FOUND", "error: JSON message string" },

    { 503, B("{\"message\":\"m\",\"error\":\"e\"}"), "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"ERROR\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"GENERAL_ERROR\",\"text\":\"e\"}}}",
      503, "ERROR", "GENERAL_ERROR", "error: error before message" },

    { 405, B("{\"error\":{\"message\":\"x\"},\"message\":\"\"}"),
      "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"METHOD_NOT_ALLOWED\",\"text\":\"Method not allowed\"}}}",
      405, "BAD_REQUEST", "METHOD_NOT_ALLOWED",
      "error: non-string error, empty message" },

    /* plain text */

    { 429, B("Too many requests\n"), "text/plain",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"TOO_MANY_REQUESTS\",\"text\":\"Too many requests\"}}}",
      429, "BAD_REQUEST", "TOO_MANY_REQUESTS", "plain: text/plain" },

    { 502, B("  a\001b\tc\r\n\r\nd\x7f" "e\xc2\x85" "f \x1b[0m"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"ERROR\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"GENERAL_ERROR\",\"text\":\"ab c def [0m\"}}}",
      502, "ERROR", "GENERAL_ERROR",
      "plain: no Content-Type, control characters dropped" },

    { 400, B("bad \xff\xfe x\xe2\x82"), "Text/Plain; charset=utf-8",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"BAD_REQUEST\",\"text\":\"bad \xef\xbf\xbd\xef\xbf\xbd x"
      "\xef\xbf\xbd\xef\xbf\xbd\"}}}",
      400, "BAD_REQUEST", "BAD_REQUEST",
      "plain: invalid UTF-8 replaced, Content-Type parameters" },

    { 400, B("caf\xc3\xa9 \xf0\x9f\x98\x80 \xed\xa0\x80"), " text/plain ",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"BAD_REQUEST\",\"text\":\"caf\xc3\xa9 \xf0\x9f\x98\x80 "
      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"}}}",
      400, "BAD_REQUEST", "BAD_REQUEST",
      "plain: valid UTF-8 kept, surrogate replaced" },

    { 500, B("a\0b"), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"ERROR\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"GENERAL_ERROR\",\"text\":\"ab\"}}}",
      500, "ERROR", "GENERAL_ERROR", "plain: NUL dropped" },

    { 404, B("\001\002 \n"), "text/plain",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"NOT_FOUND\",\"text\":\"Not found\"}}}",
      404, "BAD_REQUEST", "NOT_FOUND", "plain: nothing left" },

    { 404, B("<html><body>Not Found</body></html>"), "text/html",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"NOT_FOUND\",\"text\":\"Not found\"}}}",
      404, "BAD_REQUEST", "NOT_FOUND", "plain: text/html not used" },

    { 404, B("Not Found"), "text/plainx",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"NOT_FOUND\",\"text\":\"Not found\"}}}",
      404, "BAD_REQUEST", "NOT_FOUND", "plain: text/plainx not used" },

    { 413, B("Too large"), "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"REQUEST_TOO_LARGE\",\"text\":\"Request too large\"}}}",
      413, "BAD_REQUEST", "REQUEST_TOO_LARGE",
      "plain: not JSON under a JSON Content-Type not used" },

    { 403, B("403"), "text/plain",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"FORBIDDEN\",\"text\":\"403\"}}}",
      403, "BAD_REQUEST", "FORBIDDEN", "plain: a JSON scalar is plain text" },

    { 400, B("[\"x\"]"), "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"BAD_REQUEST\",\"text\":\"Bad request\"}}}",
      400, "BAD_REQUEST", "BAD_REQUEST", "error: JSON array" },

    /* status table */

    { 400, B(""), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"BAD_REQUEST\",\"text\":\"Bad request\"}}}",
      400, "BAD_REQUEST", "BAD_REQUEST", "status: 400" },

    { 401, B(""), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"UNAUTHORIZED\",\"text\":\"Unauthorized\"}}}",
      401, "BAD_REQUEST", "UNAUTHORIZED", "status: 401" },

    { 403, B(""), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"FORBIDDEN\",\"text\":\"Forbidden\"}}}",
      403, "BAD_REQUEST", "FORBIDDEN", "status: 403" },

    { 404, B("{}"), "application/json",
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"NOT_FOUND\",\"text\":\"Not found\"}}}",
      404, "BAD_REQUEST", "NOT_FOUND", "status: 404" },

    { 405, B(""), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"METHOD_NOT_ALLOWED\",\"text\":\"Method not allowed\"}}}",
      405, "BAD_REQUEST", "METHOD_NOT_ALLOWED", "status: 405" },

    { 413, B(""), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"REQUEST_TOO_LARGE\",\"text\":\"Request too large\"}}}",
      413, "BAD_REQUEST", "REQUEST_TOO_LARGE", "status: 413" },

    { 429, B(""), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"TOO_MANY_REQUESTS\",\"text\":\"Too many requests\"}}}",
      429, "BAD_REQUEST", "TOO_MANY_REQUESTS", "status: 429" },

    { 409, B(""), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"BAD_REQUEST\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"BAD_REQUEST\",\"text\":\"Bad request\"}}}",
      409, "BAD_REQUEST", "BAD_REQUEST", "status: other 4xx" },

    { 500, B(""), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"ERROR\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"GENERAL_ERROR\",\"text\":\"General error\"}}}",
      500, "ERROR", "GENERAL_ERROR", "status: 500" },

    { 503, B(""), NULL,
      "{\"pinId\":\"" REQ "\",\"to\":null,\"callStatus\":\"ERROR\","
      "\"requestError\":{\"serviceException\":{\"messageId\":"
      "\"GENERAL_ERROR\",\"text\":\"General error\"}}}",
      503, "ERROR", "GENERAL_ERROR", "status: other 5xx" },

    { 0, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL }
};


static void
test_builtin(void)
{
    char              *p;
    char               name[128];
    const char        *got;
    const map_case_t  *c;

    for (c = builtin_cases; c->in; c++) {
        snprintf(name, sizeof(name), "builtin: \"%s\" -> %s", c->in, c->out);

        /* a line break in a test name would break the TAP stream */

        for (p = name; *p; p++) {
            if ((unsigned char) *p < 0x20) {
                *p = '.';
            }
        }

        got = ngx_http_tfa_resend_map_status(NULL,
                                             (const unsigned char *) c->in,
                                             strlen(c->in));
        is(got, c->out, name);
    }

    is(ngx_http_tfa_resend_map_status(NULL, NULL, 0), "UNDEFINED",
       "builtin: NULL status");
    is(ngx_http_tfa_resend_map_status(NULL, S("SENT\0")), "UNDEFINED",
       "builtin: NUL byte is not white space");
}


static void
test_call_status_lookup(void)
{
    char         copy[] = "ERROR_USER_BUSY";
    const char  *v;

    v = ngx_http_tfa_resend_call_status_lookup(S("PROCESSING"));
    is(v, "PROCESSING", "call_status_lookup: PROCESSING");
    v = ngx_http_tfa_resend_call_status_lookup(S("ERROR_NO_ANSWER"));
    is(v, "ERROR_NO_ANSWER", "call_status_lookup: ERROR_NO_ANSWER");
    v = ngx_http_tfa_resend_call_status_lookup(S("UNDEFINED"));
    is(v, "UNDEFINED", "call_status_lookup: UNDEFINED");

    v = ngx_http_tfa_resend_call_status_lookup((unsigned char *) copy,
                                               sizeof(copy) - 1);
    is(v, "ERROR_USER_BUSY", "call_status_lookup: a caller's copy");
    ok(v != copy, "call_status_lookup: gives the static copy");

    ok(ngx_http_tfa_resend_call_status_lookup(S("processing")) == NULL,
       "call_status_lookup: case matters");
    ok(ngx_http_tfa_resend_call_status_lookup(S("PROCESSINGX")) == NULL,
       "call_status_lookup: longer");
    ok(ngx_http_tfa_resend_call_status_lookup(S("PROCESS")) == NULL,
       "call_status_lookup: prefix");
    ok(ngx_http_tfa_resend_call_status_lookup(S("")) == NULL,
       "call_status_lookup: empty");
    ok(ngx_http_tfa_resend_call_status_lookup(NULL, 0) == NULL,
       "call_status_lookup: NULL");
}


static void
test_map(void)
{
    int                                rc;
    char                               err[256];
    ngx_http_tfa_resend_status_map_t  *map;

    map = ngx_http_tfa_resend_status_map_create();
    ok(map != NULL, "map: created");

    rc = ngx_http_tfa_resend_status_map_add(map, S("~^PEND"), S("ERROR"),
                                            err, sizeof(err));
    ok(rc == 0, "map: add regex");
    rc = ngx_http_tfa_resend_status_map_add(map, S(" pending_accepted "),
                                            S("PROCESSED"), err, sizeof(err));
    ok(rc == 0, "map: add exact after a regex");
    rc = ngx_http_tfa_resend_status_map_add(map, S("~^FOO"),
                                            S("ERROR_USER_BUSY"),
                                            err, sizeof(err));
    ok(rc == 0, "map: add regex 2");
    rc = ngx_http_tfa_resend_status_map_add(map, S("~FOO"),
                                            S("ERROR_NO_ANSWER"),
                                            err, sizeof(err));
    ok(rc == 0, "map: add regex 3");
    rc = ngx_http_tfa_resend_status_map_add(map, S("~^bar$"), S("ERROR"),
                                            err, sizeof(err));
    ok(rc == 0, "map: add case-sensitive regex");
    rc = ngx_http_tfa_resend_status_map_add(map, S("~*^baz$"),
                                            S("PROCESSED"), err, sizeof(err));
    ok(rc == 0, "map: add caseless regex");
    rc = ngx_http_tfa_resend_status_map_add(map, S("SENT"), S("ERROR"),
                                            err, sizeof(err));
    ok(rc == 0, "map: add exact overriding the built-in table");
    rc = ngx_http_tfa_resend_status_map_add(map, S("~^x y$"),
                                            S("ANSWERED_MACHINE"),
                                            err, sizeof(err));
    ok(rc == 0, "map: add regex with a space");

    is(ngx_http_tfa_resend_map_status(map, S("PENDING_ACCEPTED")),
       "PROCESSED", "map: exact before regex");
    is(ngx_http_tfa_resend_map_status(map, S("\tPending_Accepted  ")),
       "PROCESSED", "map: exact is trimmed and caseless");
    is(ngx_http_tfa_resend_map_status(map, S("PENDING_ENROUTE")),
       "ERROR", "map: regex before the built-in table");
    is(ngx_http_tfa_resend_map_status(map, S("FOOBAR")),
       "ERROR_USER_BUSY", "map: regexes in order, first");
    is(ngx_http_tfa_resend_map_status(map, S("XFOO")),
       "ERROR_NO_ANSWER", "map: regexes in order, second");
    is(ngx_http_tfa_resend_map_status(map, S("bar")),
       "ERROR", "map: ~ matches");
    is(ngx_http_tfa_resend_map_status(map, S("BAR")),
       "UNDEFINED", "map: ~ is case-sensitive");
    is(ngx_http_tfa_resend_map_status(map, S("BaZ")),
       "PROCESSED", "map: ~* is caseless");
    is(ngx_http_tfa_resend_map_status(map, S("  bar  ")),
       "ERROR", "map: regex sees the trimmed value");
    is(ngx_http_tfa_resend_map_status(map, S("x y")),
       "ANSWERED_MACHINE", "map: inner space kept");
    is(ngx_http_tfa_resend_map_status(map, S("sent")),
       "ERROR", "map: overrides the built-in table");
    is(ngx_http_tfa_resend_map_status(map, S("DELIVERED")),
       "PROCESSED", "map: falls back to the built-in table");
    is(ngx_http_tfa_resend_map_status(map, NULL, 0),
       "UNDEFINED", "map: NULL status");

    err[0] = '\0';
    rc = ngx_http_tfa_resend_status_map_add(map, S("X"), S("processing"),
                                            err, sizeof(err));
    ok(rc == -1, "map: lower-case canonical rejected");
    is(err, "unknown callStatus \"processing\"", "map: unknown message");

    rc = ngx_http_tfa_resend_status_map_add(map, S("X"), S("DELIVERED"),
                                            err, sizeof(err));
    ok(rc == -1, "map: non-canonical value rejected");
    is(err, "unknown callStatus \"DELIVERED\"", "map: unknown message 2");

    rc = ngx_http_tfa_resend_status_map_add(map, S("X"), S(""),
                                            err, sizeof(err));
    ok(rc == -1, "map: empty canonical rejected");

    rc = ngx_http_tfa_resend_status_map_add(map, S("~(a"), S("ERROR"),
                                            err, sizeof(err));
    ok(rc == -1, "map: bad regex rejected");
    is(err, "invalid regex \"(a\": missing closing parenthesis at offset 2",
       "map: bad regex message");

    rc = ngx_http_tfa_resend_status_map_add(map, S("~*a{2,1}"), S("ERROR"),
                                            err, sizeof(err));
    ok(rc == -1 && strstr(err, "at offset 5") != NULL,
       "map: bad caseless regex rejected");

    is(ngx_http_tfa_resend_map_status(map, S("X")), "UNDEFINED",
       "map: rejected rows were not added");

    ngx_http_tfa_resend_status_map_free(map);
    ngx_http_tfa_resend_status_map_free(NULL);
}


static void
test_normalize(void)
{
    int                               rc;
    char                              name[160];
    const norm_case_t                *c;
    ngx_http_tfa_resend_answer_t      in;
    ngx_http_tfa_resend_canonical_t   out;

    for (c = norm_cases; c->name; c++) {
        memset(&in, 0, sizeof(in));
        in.status = c->status;
        in.body = (const unsigned char *) c->body;
        in.body_len = c->body_len;
        in.content_type = (const unsigned char *) c->content_type;
        in.content_type_len = c->content_type ? strlen(c->content_type) : 0;
        in.pin_id = (const unsigned char *) REQ;
        in.pin_id_len = sizeof(REQ) - 1;

        rc = ngx_http_tfa_resend_normalize(&in, &out);
        ok(rc == 0, c->name);

        snprintf(name, sizeof(name), "%s: body", c->name);
        is_n(out.body, out.body_len, c->expected_body, name);

        snprintf(name, sizeof(name), "%s: status", c->name);
        ok(out.status == c->expected_status, name);

        snprintf(name, sizeof(name), "%s: callStatus", c->name);
        is(out.call_status, c->expected_call_status, name);

        snprintf(name, sizeof(name), "%s: messageId", c->name);
        is_n(out.message_id, out.message_id_len, c->expected_message_id,
             name);

        ok(out.body && strlen(out.body) == out.body_len,
           "body is NUL-terminated");

        ngx_http_tfa_resend_canonical_free(&out);

        /* both ways through give these bytes: jansson, and the fast path
           where it takes the answer */

        rc = ngx_http_tfa_resend_normalize_jansson(&in, &out);
        snprintf(name, sizeof(name), "%s: jansson path", c->name);
        is_n(out.body, out.body_len, c->expected_body, name);
        ngx_http_tfa_resend_canonical_free(&out);

        rc = ngx_http_tfa_resend_normalize_fast(&in, &out);

        if (rc == 0) {
            snprintf(name, sizeof(name), "%s: fast path", c->name);
            is_n(out.body, out.body_len, c->expected_body, name);
            ngx_http_tfa_resend_canonical_free(&out);
        }
    }
}


typedef struct {
    const char  *body;
    size_t       body_len;
    int          accept;
    const char  *pin_id;       /* "" absent, "\x01" null, "\x02" other */
    const char  *to;
    const char  *call_status;
    const char  *status;
    const char  *name;
} scan_case_t;


#define ABSENT  ""
#define NUL     "\x01"
#define OTHER   "\x02"


static const scan_case_t  scan_cases[] = {
    { B(ok_body), 1, PIN, "41793026727", "PENDING_ACCEPTED", ABSENT,
      "scan: Infobip example" },
    { B(" \t\r\n{ \"to\" : \"1\" ,\"x\":[]}"), 0, ABSENT, ABSENT, ABSENT,
      ABSENT, "scan: declines nesting (array)" },
    { B("{\"callStatus\":{\"name\":\"SENT\"}}"), 0, ABSENT, ABSENT, ABSENT,
      ABSENT, "scan: declines nesting (object)" },
    { B(" \t\r\n{ \"to\" : \"1\" , \"status\":null } \n"), 1, ABSENT, "1",
      ABSENT, NUL, "scan: white space, null" },
    { B("{}"), 1, ABSENT, ABSENT, ABSENT, ABSENT, "scan: empty object" },
    { B("{\"a\":1,\"b\":-0.5,\"c\":true,\"d\":false,\"e\":null,"
        "\"callStatus\":123456789012345678,\"pinId\":-0,\"to\":false,"
        "\"status\":true}"), 1, OTHER, OTHER, OTHER, OTHER,
      "scan: scalars" },
    { B("{\"x\":1,\"x\":\"2\",\"pinId\":\"\xc3\xa9\xf0\x9f\x98\x80\x7f\"}"), 1,
      "\xc3\xa9\xf0\x9f\x98\x80\x7f", ABSENT, ABSENT, ABSENT,
      "scan: UTF-8, DEL, another key twice" },
    { B("{\"to\":\"1\",\"to\":\"2\"}"), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines a read key twice" },
    { B("{\"to\":\"a\\/b\"}"), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines an escape" },
    { B("{\"to\\u0041\":\"1\"}"), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines an escape in a key" },
    { B("{\"to\":\"a\x01\"}"), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines a control character" },
    { B("{\"to\":\"\xed\xa0\x80\"}"), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines a surrogate" },
    { B("{\"to\":\"\xc0\xaf\"}"), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines an overlong form" },
    { B("{\"to\":\"\xc3\"}"), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines a cut character" },
    { B("{\"a\":1e5}"), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines an exponent" },
    { B("{\"a\":1234567890123456789}"), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines 19 digits" },
    { B("{\"a\":01}"), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines a leading zero" },
    { B("{\"a\":1.}"), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines 1." },
    { B("{\"a\":.5}"), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines .5" },
    { B("{\"a\":-}"), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines -" },
    { B("{\"a\":+1}"), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines +1" },
    { B("{\"a\":truex}"), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines truex" },
    { B("{\"a\":nul}"), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines nul" },
    { B("{\"a\":1,}"), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines a trailing comma" },
    { B("{\"a\" 1}"), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines a missing colon" },
    { B("{\"a\":1}x"), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines something after the object" },
    { B("{\"a\":1}\0"), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines a NUL after the object" },
    { B("{\"a\":1\f}"), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines a form feed" },
    { B("\xef\xbb\xbf{}"), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines a BOM" },
    { B("{\"a\":\"1\""), 0, ABSENT, ABSENT, ABSENT, ABSENT,
      "scan: declines a cut object" },
    { B("[]"), 0, ABSENT, ABSENT, ABSENT, ABSENT, "scan: declines an array" },
    { B(""), 0, ABSENT, ABSENT, ABSENT, ABSENT, "scan: declines nothing" },
    { NULL, 0, 0, NULL, NULL, NULL, NULL, NULL }
};


static void
is_field(const ngx_http_tfa_resend_field_t *f, const char *expected,
    const char *name)
{
    if (strcmp(expected, ABSENT) == 0) {
        ok(f->type == NGX_HTTP_TFA_RESEND_JSON_ABSENT, name);

    } else if (strcmp(expected, NUL) == 0) {
        ok(f->type == NGX_HTTP_TFA_RESEND_JSON_NULL, name);

    } else if (strcmp(expected, OTHER) == 0) {
        ok(f->type == NGX_HTTP_TFA_RESEND_JSON_OTHER, name);

    } else {
        ok(f->type == NGX_HTTP_TFA_RESEND_JSON_STRING, name);
        is_n((const char *) f->data, f->len, expected, name);
    }
}


static void
test_scan(void)
{
    int                           rc;
    char                          name[160];
    const scan_case_t            *c;
    ngx_http_tfa_resend_field_t   f[NGX_HTTP_TFA_RESEND_FIELD_COUNT];

    for (c = scan_cases; c->name; c++) {
        rc = ngx_http_tfa_resend_scan((const unsigned char *) c->body,
                                      c->body_len, f);
        ok(rc == c->accept, c->name);

        if (rc != 1) {
            continue;
        }

        snprintf(name, sizeof(name), "%s: pinId", c->name);
        is_field(&f[NGX_HTTP_TFA_RESEND_FIELD_PIN_ID], c->pin_id, name);
        snprintf(name, sizeof(name), "%s: to", c->name);
        is_field(&f[NGX_HTTP_TFA_RESEND_FIELD_TO], c->to, name);
        snprintf(name, sizeof(name), "%s: callStatus", c->name);
        is_field(&f[NGX_HTTP_TFA_RESEND_FIELD_CALL_STATUS], c->call_status,
                 name);
        snprintf(name, sizeof(name), "%s: status", c->name);
        is_field(&f[NGX_HTTP_TFA_RESEND_FIELD_STATUS], c->status, name);
    }
}


static void
test_fast_path(void)
{
    int                               rc;
    ngx_http_tfa_resend_answer_t      in;
    ngx_http_tfa_resend_canonical_t   out;

    memset(&in, 0, sizeof(in));
    in.status = 200;
    in.body = (const unsigned char *) ok_body;
    in.body_len = sizeof(ok_body) - 1;

    rc = ngx_http_tfa_resend_normalize_fast(&in, &out);
    ok(rc == 0, "fast path: takes the Infobip example");
    is(out.body, "{\"pinId\":\"" PIN "\",\"to\":\"41793026727\","
       "\"callStatus\":\"PROCESSING\"}", "fast path: its body");
    ok(out.status == 200 && out.message_id == NULL,
       "fast path: status, no messageId");
    ngx_http_tfa_resend_canonical_free(&out);

    /* the answers it leaves to jansson */

    in.status = 400;
    ok(ngx_http_tfa_resend_normalize_fast(&in, &out) == 1,
       "fast path: declines an error status");

    in.status = 200;
    in.body_len = 0;
    ok(ngx_http_tfa_resend_normalize_fast(&in, &out) == 1,
       "fast path: declines an empty answer");

    in.body = (const unsigned char *) "{\"callStatus\":{\"name\":\"SENT\"}}";
    in.body_len = strlen((const char *) in.body);
    ok(ngx_http_tfa_resend_normalize_fast(&in, &out) == 1,
       "fast path: declines a status object");
}


/* an allocator that counts, as the filter's pool would be used */

static unsigned  allocations;


static void *
test_alloc(void *data, size_t size)
{
    allocations++;
    *(size_t *) data = size;

    return malloc(size);
}


static void
test_allocator(void)
{
    int                               rc;
    char                             *body;
    size_t                            size;
    ngx_http_tfa_resend_answer_t      in;
    ngx_http_tfa_resend_canonical_t   out;
    ngx_http_tfa_resend_allocator_t   a;

    a.alloc = test_alloc;
    a.data = &size;

    memset(&in, 0, sizeof(in));
    in.status = 200;
    in.body = (const unsigned char *) ok_body;
    in.body_len = sizeof(ok_body) - 1;
    in.allocator = &a;

    allocations = 0;
    rc = ngx_http_tfa_resend_normalize(&in, &out);
    ok(rc == 0 && allocations == 1 && !out.malloced,
       "allocator: one block from it");
    /* a success body is not measured first: room for 6 bytes a byte */

    ok(size >= out.body_len + 1
       && size <= out.body_len + 1 + 5 * (sizeof(PIN) - 1 + 11) + 2 * 4,
       "allocator: room for the body and its NUL, at most the worst case");
    body = out.body;
    ngx_http_tfa_resend_canonical_free(&out);
    ok(out.body == NULL, "allocator: canonical_free clears");
    free(body);

    in.status = 404;
    in.body = (const unsigned char *)
              "{\"requestError\":{\"serviceException\":"
              "{\"messageId\":\"NOT_\\u0000FOUND\",\"text\":\"x\","
              "\"validationErrors\":{\"a\":[1.5,null]}}}}";
    in.body_len = strlen((const char *) in.body);

    allocations = 0;
    rc = ngx_http_tfa_resend_normalize(&in, &out);
    ok(rc == 0 && allocations == 1, "allocator: an error, one block");
    is(out.body, "{\"pinId\":null,\"to\":null,\"callStatus\":\"BAD_REQUEST\","
       "\"requestError\":{\"serviceException\":{\"messageId\":"
       "\"NOT_\\u0000FOUND\",\"text\":\"x\",\"validationErrors\":"
       "{\"a\":[1.5,null]}}}}", "allocator: an error, body");
    ok(size == out.body_len + 1 + out.message_id_len + 1
       && out.message_id == out.body + out.body_len + 1
       && out.message_id_len == 10
       && memcmp(out.message_id, "NOT_\0FOUND", 11) == 0,
       "allocator: messageId after the body, in the same block");
    free(out.body);

    allocations = 0;
    rc = ngx_http_tfa_resend_canonical_error(429, S(PIN), NULL, NULL, NULL,
                                             &a, &out);
    ok(rc == 0 && allocations == 1 && !out.malloced
       && size == out.body_len + 1 + out.message_id_len + 1,
       "allocator: canonical_error, one block");
    free(out.body);
}


/*
 * An answer whose tree does not fit jansson's per-call arena: the rest
 * comes from malloc() and goes back with free() (ASan checks both), and
 * the next answer starts with the whole arena again.
 */

static void
test_arena(void)
{
    int                               rc, i;
    char                             *body, *p, *expected;
    size_t                            n;
    ngx_http_tfa_resend_answer_t      in;
    ngx_http_tfa_resend_canonical_t   out;

    static const char  head[] = "{\"requestError\":{\"serviceException\":"
                                "{\"messageId\":\"M\",\"text\":\"t\","
                                "\"validationErrors\":[";
    static const char  item[] = "{\"field\":\"to\",\"message\":\"xxxxxxxx\"},";
    static const char  prefix[] = "{\"pinId\":null,\"to\":null,"
                                  "\"callStatus\":\"BAD_REQUEST\","
                                  "\"requestError\":{\"serviceException\":"
                                  "{\"messageId\":\"M\",\"text\":\"t\","
                                  "\"validationErrors\":";

    n = sizeof(head) - 1 + 2000 * (sizeof(item) - 1) + 4;
    body = malloc(n);
    p = body;
    memcpy(p, head, sizeof(head) - 1);
    p += sizeof(head) - 1;

    for (i = 0; i < 2000; i++) {
        memcpy(p, item, sizeof(item) - 1);
        p += sizeof(item) - 1;
    }

    memcpy(p - 1, "]}}}", 4);
    p += 3;

    memset(&in, 0, sizeof(in));
    in.status = 400;
    in.body = (const unsigned char *) body;
    in.body_len = p - body;

    /* the array comes out as it went in: compact already */

    n = sizeof(prefix) - 1 + (p - 3 - (body + sizeof(head) - 2)) + 3;
    expected = malloc(n + 1);
    memcpy(expected, prefix, sizeof(prefix) - 1);
    memcpy(expected + sizeof(prefix) - 1, body + sizeof(head) - 2,
           p - 3 - (body + sizeof(head) - 2));
    memcpy(expected + n - 3, "}}}", 4);

    rc = ngx_http_tfa_resend_normalize(&in, &out);
    ok(rc == 0, "arena: an answer larger than it");
    is(out.body, expected, "arena: an answer larger than it, body");
    free(expected);
    ngx_http_tfa_resend_canonical_free(&out);
    free(body);

    in.body = (const unsigned char *) "{\"errorCode\":\"E429\"}";
    in.body_len = strlen((const char *) in.body);
    in.status = 429;

    rc = ngx_http_tfa_resend_normalize(&in, &out);
    is(out.body, "{\"pinId\":null,\"to\":null,\"callStatus\":\"BAD_REQUEST\","
       "\"requestError\":{\"serviceException\":{\"messageId\":"
       "\"TOO_MANY_REQUESTS\",\"text\":\"Too many requests\"}}}",
       "arena: the next answer");
    ngx_http_tfa_resend_canonical_free(&out);
}


static void
test_normalize_more(void)
{
    int                                rc;
    char                               body[600], err[128];
    ngx_http_tfa_resend_answer_t       in;
    ngx_http_tfa_resend_canonical_t    out;
    ngx_http_tfa_resend_status_map_t  *map;

    /* no pinId anywhere */

    memset(&in, 0, sizeof(in));
    in.status = 200;
    in.body = (const unsigned char *) "{\"callStatus\":\"SENT\"}";
    in.body_len = strlen((const char *) in.body);

    rc = ngx_http_tfa_resend_normalize(&in, &out);
    is(out.body, "{\"pinId\":null,\"to\":null,\"callStatus\":\"PROCESSING\"}",
       "pinId: null without one");
    ngx_http_tfa_resend_canonical_free(&out);

    /* the request's pinId, made valid UTF-8 */

    in.pin_id = (const unsigned char *) "A\xff" "B";
    in.pin_id_len = 3;
    rc = ngx_http_tfa_resend_normalize(&in, &out);
    is(out.body, "{\"pinId\":\"A\xef\xbf\xbd" "B\",\"to\":null,"
       "\"callStatus\":\"PROCESSING\"}", "pinId: invalid UTF-8 replaced");
    ngx_http_tfa_resend_canonical_free(&out);

    in.pin_id = (const unsigned char *) "";
    in.pin_id_len = 0;
    rc = ngx_http_tfa_resend_normalize(&in, &out);
    is(out.body, "{\"pinId\":\"\",\"to\":null,\"callStatus\":\"PROCESSING\"}",
       "pinId: the request's empty pinId");
    ngx_http_tfa_resend_canonical_free(&out);

    /* a configured map */

    map = ngx_http_tfa_resend_status_map_create();
    ngx_http_tfa_resend_status_map_add(map, S("~*^pending_"),
                                       S("ERROR_USER_BUSY"),
                                       err, sizeof(err));
    ngx_http_tfa_resend_status_map_add(map, S("~^QUEUED$"), S("PROCESSING"),
                                       err, sizeof(err));

    memset(&in, 0, sizeof(in));
    in.status = 200;
    in.body = (const unsigned char *) ok_body;
    in.body_len = sizeof(ok_body) - 1;
    in.map = map;

    rc = ngx_http_tfa_resend_normalize(&in, &out);
    ok(rc == 0, "map in normalize");
    is(out.body, "{\"pinId\":\"" PIN "\",\"to\":\"41793026727\","
       "\"callStatus\":\"ERROR_USER_BUSY\"}", "map in normalize: body");
    ngx_http_tfa_resend_canonical_free(&out);

    in.status = 400;
    in.body = (const unsigned char *) "{\"callStatus\":\" QUEUED \"}";
    in.body_len = strlen((const char *) in.body);
    rc = ngx_http_tfa_resend_normalize(&in, &out);
    is(out.body, "{\"pinId\":null,\"to\":null,\"callStatus\":\"PROCESSING\","
       "\"requestError\":{\"serviceException\":{\"messageId\":"
       "\"BAD_REQUEST\",\"text\":\"Bad request\"}}}",
       "map in normalize: error with a status");
    ngx_http_tfa_resend_canonical_free(&out);

    ngx_http_tfa_resend_status_map_free(map);

    /* the 256-byte cap on plain text */

    memset(body, 'x', sizeof(body));
    memset(&in, 0, sizeof(in));
    in.status = 400;
    in.body = (const unsigned char *) body;
    in.body_len = NGX_HTTP_TFA_RESEND_PLAIN_TEXT_MAX;

    rc = ngx_http_tfa_resend_normalize(&in, &out);
    ok(rc == 0 && out.body_len == 125 + NGX_HTTP_TFA_RESEND_PLAIN_TEXT_MAX
       && strstr(out.body, "\"text\":\"xxxx") != NULL,
       "plain: 256 bytes used");
    ngx_http_tfa_resend_canonical_free(&out);

    in.body_len = NGX_HTTP_TFA_RESEND_PLAIN_TEXT_MAX + 1;
    rc = ngx_http_tfa_resend_normalize(&in, &out);
    is(out.body, "{\"pinId\":null,\"to\":null,\"callStatus\":\"BAD_REQUEST\","
       "\"requestError\":{\"serviceException\":{\"messageId\":"
       "\"BAD_REQUEST\",\"text\":\"Bad request\"}}}",
       "plain: 257 bytes not used");
    ngx_http_tfa_resend_canonical_free(&out);

    /* 256 invalid bytes: 768 bytes of U+FFFD */

    memset(body, 0xff, sizeof(body));
    in.body_len = NGX_HTTP_TFA_RESEND_PLAIN_TEXT_MAX;
    rc = ngx_http_tfa_resend_normalize(&in, &out);
    ok(rc == 0 && out.body_len == 125 + 3 * NGX_HTTP_TFA_RESEND_PLAIN_TEXT_MAX,
       "plain: 256 invalid bytes replaced");
    ngx_http_tfa_resend_canonical_free(&out);
}


static void
test_canonical_error(void)
{
    int                               rc;
    ngx_http_tfa_resend_canonical_t   out;

    rc = ngx_http_tfa_resend_canonical_error(429, S(PIN), "TOO_MANY_REQUESTS",
                                             "Too many resend requests",
                                             NULL, NULL, &out);
    ok(rc == 0, "gateway error: 429");
    is(out.body, "{\"pinId\":\"" PIN "\",\"to\":null,"
       "\"callStatus\":\"BAD_REQUEST\",\"requestError\":{\"serviceException\":"
       "{\"messageId\":\"TOO_MANY_REQUESTS\","
       "\"text\":\"Too many resend requests\"}}}", "gateway error: 429 body");
    ok(out.status == 429, "gateway error: 429 status");
    is(out.call_status, "BAD_REQUEST", "gateway error: 429 callStatus");
    is(out.message_id, "TOO_MANY_REQUESTS", "gateway error: 429 messageId");
    ngx_http_tfa_resend_canonical_free(&out);
    ok(out.body == NULL && out.message_id == NULL, "canonical_free clears");

    rc = ngx_http_tfa_resend_canonical_error(400, NULL, 0, NULL, NULL, NULL,
                                             NULL, &out);
    is(out.body, "{\"pinId\":null,\"to\":null,\"callStatus\":\"BAD_REQUEST\","
       "\"requestError\":{\"serviceException\":{\"messageId\":"
       "\"BAD_REQUEST\",\"text\":\"Bad request\"}}}",
       "gateway error: all defaults");
    ngx_http_tfa_resend_canonical_free(&out);

    rc = ngx_http_tfa_resend_canonical_error(504, S(PIN), "UPSTREAM_TIMEOUT",
                                             NULL, "ERROR", NULL, &out);
    is(out.body, "{\"pinId\":\"" PIN "\",\"to\":null,\"callStatus\":\"ERROR\","
       "\"requestError\":{\"serviceException\":{\"messageId\":"
       "\"UPSTREAM_TIMEOUT\",\"text\":\"Upstream timed out\"}}}",
       "gateway error: 504 UPSTREAM_TIMEOUT");
    ok(out.status == 504, "gateway error: 504 status");
    ngx_http_tfa_resend_canonical_free(&out);

    rc = ngx_http_tfa_resend_canonical_error(502, S(PIN), "UPSTREAM_ERROR",
                                             NULL, NULL, NULL, &out);
    is(out.body, "{\"pinId\":\"" PIN "\",\"to\":null,\"callStatus\":\"ERROR\","
       "\"requestError\":{\"serviceException\":{\"messageId\":"
       "\"UPSTREAM_ERROR\",\"text\":\"Upstream answer could not be used\"}}}",
       "gateway error: 502 UPSTREAM_ERROR");
    ngx_http_tfa_resend_canonical_free(&out);

    rc = ngx_http_tfa_resend_canonical_error(503, S(PIN), NULL, NULL, NULL,
                                             NULL, &out);
    is(out.body, "{\"pinId\":\"" PIN "\",\"to\":null,\"callStatus\":\"ERROR\","
       "\"requestError\":{\"serviceException\":{\"messageId\":"
       "\"GENERAL_ERROR\",\"text\":\"General error\"}}}",
       "gateway error: 503 defaults");
    ngx_http_tfa_resend_canonical_free(&out);

    rc = ngx_http_tfa_resend_canonical_error(415, S(PIN),
                                             "UNSUPPORTED_MEDIA_TYPE", NULL,
                                             NULL, NULL, &out);
    is(out.body, "{\"pinId\":\"" PIN "\",\"to\":null,"
       "\"callStatus\":\"BAD_REQUEST\",\"requestError\":{\"serviceException\":"
       "{\"messageId\":\"UNSUPPORTED_MEDIA_TYPE\","
       "\"text\":\"Unsupported media type\"}}}",
       "gateway error: 415 text from the status");
    ngx_http_tfa_resend_canonical_free(&out);

    rc = ngx_http_tfa_resend_canonical_error(402, S(PIN),
                                             "NOT_ENOUGH_CREDITS", "x",
                                             "bogus", NULL, &out);
    is(out.call_status, "ERROR_NOT_ENOUGH_CREDITS",
       "gateway error: unknown callStatus derived");
    ngx_http_tfa_resend_canonical_free(&out);

    rc = ngx_http_tfa_resend_canonical_error(413, S("P\xc0" "Q"),
                                             "REQUEST_TOO_LARGE",
                                             "t\x01\xff", "PROCESSED", NULL,
                                             &out);
    is(out.body, "{\"pinId\":\"P\xef\xbf\xbdQ\",\"to\":null,"
       "\"callStatus\":\"PROCESSED\",\"requestError\":{\"serviceException\":"
       "{\"messageId\":\"REQUEST_TOO_LARGE\","
       "\"text\":\"t\\u0001\xef\xbf\xbd\"}}}",
       "gateway error: explicit callStatus, invalid UTF-8 made valid");
    ngx_http_tfa_resend_canonical_free(&out);

    rc = ngx_http_tfa_resend_canonical_error(200, S(PIN), NULL, NULL, NULL,
                                             NULL, &out);
    ok(rc == 0 && out.message_id == NULL, "gateway answer below 400");
    is(out.body, "{\"pinId\":\"" PIN "\",\"to\":null,"
       "\"callStatus\":\"BAD_REQUEST\"}", "gateway answer below 400: body");
    ngx_http_tfa_resend_canonical_free(&out);

    ngx_http_tfa_resend_canonical_free(NULL);
}


int
main(void)
{
    test_builtin();
    test_call_status_lookup();
    test_map();
    test_normalize();
    test_scan();
    test_fast_path();
    test_allocator();
    test_arena();
    test_normalize_more();
    test_canonical_error();

    return done_testing();
}
