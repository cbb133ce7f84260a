# Every answer to an intercepted resend has the canonical shape
# (docs/canonical-response.md), whoever made it.

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib $FindBin::Bin;
use TfaResend;

# A status map naming a value outside the 11 fails nginx -t, naming it.

my ($rc, $out) = nginx_t(q{
    server {
        listen 127.0.0.1:1999;
        location / {
            tfa_resend_status_map PENDING_ACCEPTED DONE_DEAL;
        }
    }
});
isnt($rc, 0, 'tfa_resend_status_map with an unknown callStatus fails');
like($out, qr/\[emerg\].*invalid tfa_resend_status_map "PENDING_ACCEPTED DONE_DEAL": unknown callStatus "DONE_DEAL"/,
     'the [emerg] names the unknown callStatus');

($rc, $out) = nginx_t(q{
    server {
        listen 127.0.0.1:1999;
        location / {
            tfa_resend_status_map "~^(PENDING" PROCESSING;
        }
    }
});
isnt($rc, 0, 'tfa_resend_status_map with a bad regex fails');
like($out, qr/\[emerg\].*invalid tfa_resend_status_map "~\^\(PENDING PROCESSING": invalid regex/,
     'the [emerg] names the bad regex');

($rc, $out) = nginx_t(q{
    tfa_resend_status_map CANCELLED ERROR_NO_ANSWER;
    tfa_resend_status_map ~*^voice ANSWERED_MACHINE;
    tfa_resend_max_response_size 8k;
    tfa_resend_normalize on;
});
is($rc, 0, 'normalizer directives are accepted in http') or diag($out);


our $http_config = <<'_EOC_';
    server {
        listen 127.0.0.1:1990;
        default_type application/json;

        location = /2fa/2/pin/00000000000000000000000000000001/resend/voice {
            return 200 '{"pinId":"00000000000000000000000000000001","to":"41793026727","callStatus":"PENDING_ACCEPTED"}';
        }

        location = /2fa/2/pin/00000000000000000000000000000002/resend/voice {
            return 200 '{"to":"41793026727","callStatus":{"name":" delivered_to_handset ","description":"x"}}';
        }

        location = /2fa/2/pin/00000000000000000000000000000003/resend/voice {
            return 200 '{"pinId":"00000000000000000000000000000003","status":{"groupName":"VOICEMAIL"}}';
        }

        location = /2fa/2/pin/00000000000000000000000000000004/resend/voice {
            return 401 '{"requestError":{"serviceException":{"messageId":"UNAUTHORIZED","text":"Invalid login details"}}}';
        }

        location = /2fa/2/pin/00000000000000000000000000000005/resend/voice {
            return 429 '{"errorCode":"E429","description":"Too many requests sent.","action":"wait","violations":[],"resources":[]}';
        }

        location = /2fa/2/pin/00000000000000000000000000000006/resend/voice {
            default_type text/plain;
            return 503 "Service\ttemporarily down\n";
        }

        location = /2fa/2/pin/00000000000000000000000000000007/resend/voice {
            default_type text/html;
            return 200 "<html>not json</html>";
        }

        location = /2fa/2/pin/00000000000000000000000000000008/resend/voice {
            return 200 '{"pinId":"00000000000000000000000000000008","to":"41793026727","callStatus":"PENDING_ACCEPTED","pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}';
        }

        location = /2fa/2/pin/00000000000000000000000000000009/resend/voice {
            add_header ETag '"abc"';
            add_header Last-Modified 'Tue, 01 Jan 2030 00:00:00 GMT';
            add_header Accept-Ranges bytes;
            return 200 '{"pinId":"00000000000000000000000000000009","to":"41793026727","callStatus":"CANCELLED"}';
        }

        location = /2fa/2/pin/0000000000000000000000000000000A/resend/voice {
            return 200 '{"pinId":"0000000000000000000000000000000A","to":"41793026727","callStatus":"insufficient_funds"}';
        }

        location = /2fa/2/pin/0000000000000000000000000000000B/resend/voice {
            return 500 '{"requestError":{"serviceException":{"messageId":"GENERAL_ERROR","text":"Something went wrong"}}}';
        }

        location /other/ {
            return 200 "raw upstream body";
        }
    }

    upstream mock_keepalive {
        server 127.0.0.1:1990;
        keepalive 4;
    }
_EOC_

our $gateway = <<'_EOC_';
        tfa_resend on;
        tfa_resend_credentials basic "user:secret";
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config", $http_config);
    }
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: success: PENDING_ACCEPTED becomes PROCESSING, exact canonical body
--- config eval
"location /2fa/ { $::gateway proxy_pass http://127.0.0.1:1990; }"
--- request
POST /2fa/2/pin/00000000000000000000000000000001/resend/voice
--- error_code: 200
--- response_headers
Content-Type: application/json
Content-Length: 89
--- response_body chomp
{"pinId":"00000000000000000000000000000001","to":"41793026727","callStatus":"PROCESSING"}
--- no_error_log
[error]



=== TEST 2: status object: name, trimmed, any case; pinId from the request path
--- config eval
"location /2fa/ { $::gateway proxy_pass http://127.0.0.1:1990; }"
--- request
POST /2fa/2/pin/00000000000000000000000000000002/resend/voice
--- error_code: 200
--- response_body chomp
{"pinId":"00000000000000000000000000000002","to":"41793026727","callStatus":"PROCESSED"}



=== TEST 3: no callStatus: status.groupName; no to: null
--- config eval
"location /2fa/ { $::gateway proxy_pass http://127.0.0.1:1990; }"
--- request
POST /2fa/2/pin/00000000000000000000000000000003/resend/voice
--- error_code: 200
--- response_body chomp
{"pinId":"00000000000000000000000000000003","to":null,"callStatus":"ANSWERED_MACHINE"}



=== TEST 4: Infobip error object kept, status kept, callStatus BAD_REQUEST
--- config eval
"location /2fa/ { $::gateway proxy_pass http://127.0.0.1:1990; }"
--- request
POST /2fa/2/pin/00000000000000000000000000000004/resend/voice
--- error_code: 401
--- response_headers
Content-Type: application/json
--- response_body chomp
{"pinId":"00000000000000000000000000000004","to":null,"callStatus":"BAD_REQUEST","requestError":{"serviceException":{"messageId":"UNAUTHORIZED","text":"Invalid login details"}}}



=== TEST 5: newer errorCode shape: E429 becomes TOO_MANY_REQUESTS
--- config eval
"location /2fa/ { $::gateway proxy_pass http://127.0.0.1:1990; }"
--- request
POST /2fa/2/pin/00000000000000000000000000000005/resend/voice
--- error_code: 429
--- response_body chomp
{"pinId":"00000000000000000000000000000005","to":null,"callStatus":"BAD_REQUEST","requestError":{"serviceException":{"messageId":"TOO_MANY_REQUESTS","text":"Too many requests sent."}}}



=== TEST 6: short plain-text 503: text kept, control characters out, ERROR
--- config eval
"location /2fa/ { $::gateway proxy_pass http://127.0.0.1:1990; }"
--- request
POST /2fa/2/pin/00000000000000000000000000000006/resend/voice
--- error_code: 503
--- response_body chomp
{"pinId":"00000000000000000000000000000006","to":null,"callStatus":"ERROR","requestError":{"serviceException":{"messageId":"GENERAL_ERROR","text":"Service temporarily down"}}}



=== TEST 7: a 200 that is not JSON is unusable: 502 UPSTREAM_ERROR
--- config eval
"location /2fa/ { $::gateway proxy_pass http://127.0.0.1:1990; }"
--- request
POST /2fa/2/pin/00000000000000000000000000000007/resend/voice
--- error_code: 502
--- response_body_like chomp
^\{"pinId":"00000000000000000000000000000007","to":null,"callStatus":"ERROR","requestError":\{"serviceException":\{"messageId":"UPSTREAM_ERROR","text":"[^"]+"\}\}\}$
--- response_body_unlike: html



=== TEST 8: an answer larger than tfa_resend_max_response_size: 502, nothing of it sent
--- config eval
"location /2fa/ { $::gateway tfa_resend_max_response_size 100; proxy_pass http://127.0.0.1:1990; }"
--- request
POST /2fa/2/pin/00000000000000000000000000000008/resend/voice
--- error_code: 502
--- response_body chomp
{"pinId":"00000000000000000000000000000008","to":null,"callStatus":"ERROR","requestError":{"serviceException":{"messageId":"UPSTREAM_ERROR","text":"upstream answer is larger than tfa_resend_max_response_size"}}}
--- error_log
tfa_resend: upstream answer is larger than tfa_resend_max_response_size



=== TEST 9: stale validators and ranges of the upstream's answer are not passed on
--- config eval
"location /2fa/ { $::gateway tfa_resend_status_map CANCELLED ERROR_NO_ANSWER; proxy_pass http://127.0.0.1:1990; }"
--- request
POST /2fa/2/pin/00000000000000000000000000000009/resend/voice
--- error_code: 200
--- response_headers
!ETag
!Last-Modified
!Accept-Ranges
--- response_body chomp
{"pinId":"00000000000000000000000000000009","to":"41793026727","callStatus":"ERROR_NO_ANSWER"}



=== TEST 10: status map: exact entries before regexes, regexes in order
--- config eval
"location /2fa/ { $::gateway
    tfa_resend_status_map ~^PENDING  ERROR;
    tfa_resend_status_map ~*pending  UNDEFINED;
    tfa_resend_status_map pending_accepted  PROCESSED;
    proxy_pass http://127.0.0.1:1990; }"
--- request
POST /2fa/2/pin/00000000000000000000000000000001/resend/voice
--- error_code: 200
--- response_body chomp
{"pinId":"00000000000000000000000000000001","to":"41793026727","callStatus":"PROCESSED"}



=== TEST 11: status map: the first matching regex wins, ~* ignores case
--- config eval
"location /2fa/ { $::gateway
    tfa_resend_status_map ~*^pending_acc  ANSWERED_MACHINE;
    tfa_resend_status_map ~^PENDING       ERROR;
    proxy_pass http://127.0.0.1:1990; }"
--- request
POST /2fa/2/pin/00000000000000000000000000000001/resend/voice
--- error_code: 200
--- response_body chomp
{"pinId":"00000000000000000000000000000001","to":"41793026727","callStatus":"ANSWERED_MACHINE"}



=== TEST 12: status map: ~ is case-sensitive, so the built-in table decides
--- config eval
"location /2fa/ { $::gateway
    tfa_resend_status_map ~^pending  ERROR;
    proxy_pass http://127.0.0.1:1990; }"
--- request
POST /2fa/2/pin/00000000000000000000000000000001/resend/voice
--- error_code: 200
--- response_body chomp
{"pinId":"00000000000000000000000000000001","to":"41793026727","callStatus":"PROCESSING"}



=== TEST 13: a location with its own map replaces the inherited entries
--- config eval
"tfa_resend_status_map CANCELLED ERROR_USER_BUSY;
location /2fa/ { $::gateway
    tfa_resend_status_map SOMETHING_ELSE ERROR;
    proxy_pass http://127.0.0.1:1990; }"
--- request
POST /2fa/2/pin/00000000000000000000000000000009/resend/voice
--- error_code: 200
--- response_body chomp
{"pinId":"00000000000000000000000000000009","to":"41793026727","callStatus":"UNDEFINED"}



=== TEST 14: a location without a map inherits the server's
--- config eval
"tfa_resend_status_map CANCELLED ERROR_USER_BUSY;
location /2fa/ { $::gateway
    proxy_pass http://127.0.0.1:1990; }"
--- request
POST /2fa/2/pin/00000000000000000000000000000009/resend/voice
--- error_code: 200
--- response_body chomp
{"pinId":"00000000000000000000000000000009","to":"41793026727","callStatus":"ERROR_USER_BUSY"}



=== TEST 15: built-in table: insufficient_funds in any case
--- config eval
"location /2fa/ { $::gateway proxy_pass http://127.0.0.1:1990; }"
--- request
POST /2fa/2/pin/0000000000000000000000000000000A/resend/voice
--- error_code: 200
--- response_body chomp
{"pinId":"0000000000000000000000000000000A","to":"41793026727","callStatus":"ERROR_NOT_ENOUGH_CREDITS"}



=== TEST 16: upstream's own 500 with an Infobip error object: kept, callStatus ERROR
--- config eval
"location /2fa/ { $::gateway proxy_pass http://127.0.0.1:1990; }"
--- request
POST /2fa/2/pin/0000000000000000000000000000000B/resend/voice
--- error_code: 500
--- response_body chomp
{"pinId":"0000000000000000000000000000000B","to":null,"callStatus":"ERROR","requestError":{"serviceException":{"messageId":"GENERAL_ERROR","text":"Something went wrong"}}}



=== TEST 17: upstream refuses the connection: canonical 502 UPSTREAM_ERROR
--- config eval
"location /2fa/ { $::gateway proxy_pass http://127.0.0.1:1989; }"
--- request
POST /2fa/2/pin/00000000000000000000000000000001/resend/voice
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body chomp
{"pinId":"00000000000000000000000000000001","to":null,"callStatus":"ERROR","requestError":{"serviceException":{"messageId":"UPSTREAM_ERROR","text":"upstream did not answer"}}}
--- error_log
connect() failed (111: Connection refused)



=== TEST 18: upstream accepts and never answers: canonical 504 UPSTREAM_TIMEOUT
--- config eval
"location /2fa/ { $::gateway proxy_read_timeout 1s; proxy_pass http://127.0.0.1:1990; }"
--- http_config
--- tcp_listen: 1990
--- tcp_no_close
--- tcp_reply:
--- request
POST /2fa/2/pin/00000000000000000000000000000001/resend/voice
--- error_code: 504
--- response_body chomp
{"pinId":"00000000000000000000000000000001","to":null,"callStatus":"ERROR","requestError":{"serviceException":{"messageId":"UPSTREAM_TIMEOUT","text":"upstream did not answer in time"}}}
--- error_log
upstream timed out
--- timeout: 6



=== TEST 19: chunked answer split at odd bytes is reassembled
--- config eval
"location /2fa/ { $::gateway proxy_pass http://127.0.0.1:1990; }"
--- http_config
--- tcp_listen: 1990
--- tcp_reply eval
my $json = '{"pinId":"00000000000000000000000000000001","to":"41793026727","callStatus":"PENDING_ACCEPTED"}';
my @chunks = (substr($json, 0, 5), substr($json, 5, 3), substr($json, 8, 28), substr($json, 36));
my @packets = ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
for my $c (@chunks) {
    my $framed = sprintf("%x\r\n%s\r\n", length($c), $c);
    push @packets, substr($framed, 0, 3), substr($framed, 3);
}
push @packets, "0\r\n", "\r\n";
\@packets;
--- request
POST /2fa/2/pin/00000000000000000000000000000001/resend/voice
--- error_code: 200
--- response_body chomp
{"pinId":"00000000000000000000000000000001","to":"41793026727","callStatus":"PROCESSING"}
--- no_error_log
[error]



=== TEST 20: Content-Length promises more than the upstream sends: 502, nothing partial
--- config eval
"location /2fa/ { $::gateway proxy_pass http://127.0.0.1:1990; }"
--- http_config
--- tcp_listen: 1990
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\nConnection: close\r\n\r\n{\"pinId\":\"00000000000000000000000000000001\",\"to\":\"41793026727\",\"callStatus\":\"PENDING_ACCEPTED\"}"
--- request
POST /2fa/2/pin/00000000000000000000000000000001/resend/voice
--- error_code: 502
--- response_body chomp
{"pinId":"00000000000000000000000000000001","to":null,"callStatus":"ERROR","requestError":{"serviceException":{"messageId":"UPSTREAM_ERROR","text":"upstream answer was cut short"}}}
--- error_log
upstream prematurely closed connection



=== TEST 21: gzip the gateway did not ask for: 502, never the compressed bytes
--- config eval
"location /2fa/ { $::gateway proxy_pass http://127.0.0.1:1990; }"
--- http_config
--- tcp_listen: 1990
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: 23\r\nConnection: close\r\n\r\n\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xab\xae\x05\x00\x43\xbf\xa6\xa3\x02\x00\x00\x00\x00"
--- request
POST /2fa/2/pin/00000000000000000000000000000001/resend/voice
--- error_code: 502
--- response_headers
!Content-Encoding
--- response_body chomp
{"pinId":"00000000000000000000000000000001","to":null,"callStatus":"ERROR","requestError":{"serviceException":{"messageId":"UPSTREAM_ERROR","text":"upstream answer is compressed"}}}



=== TEST 22: keep-alive upstream connections: pipelined resends all answered
--- config eval
"location /2fa/ { $::gateway proxy_http_version 1.1; proxy_set_header Connection ''; proxy_pass http://mock_keepalive; }"
--- pipelined_requests eval
["POST /2fa/2/pin/00000000000000000000000000000001/resend/voice",
 "POST /2fa/2/pin/0000000000000000000000000000000A/resend/voice",
 "POST /2fa/2/pin/00000000000000000000000000000001/resend/voice"]
--- error_code eval
[200, 200, 200]
--- response_body eval
['{"pinId":"00000000000000000000000000000001","to":"41793026727","callStatus":"PROCESSING"}',
 '{"pinId":"0000000000000000000000000000000A","to":"41793026727","callStatus":"ERROR_NOT_ENOUGH_CREDITS"}',
 '{"pinId":"00000000000000000000000000000001","to":"41793026727","callStatus":"PROCESSING"}']
--- no_error_log
[error]



=== TEST 23: client-side gzip compresses the canonical body
--- config eval
"gzip on; gzip_types application/json; gzip_min_length 1;
location /2fa/ { $::gateway proxy_pass http://127.0.0.1:1990; }"
--- request
POST /2fa/2/pin/00000000000000000000000000000001/resend/voice
--- more_headers
Accept-Encoding: gzip
--- error_code: 200
--- response_headers
Content-Encoding: gzip
Content-Type: application/json
--- response_body_unlike: PROCESSING



=== TEST 24: HTTP/1.0 client gets a Content-Length and the whole body
--- config eval
"location /2fa/ { $::gateway proxy_pass http://127.0.0.1:1990; }"
--- raw_request eval
"POST /2fa/2/pin/00000000000000000000000000000001/resend/voice HTTP/1.0\r\nHost: localhost\r\n\r\n"
--- error_code: 200
--- response_headers
Content-Length: 89
--- response_body chomp
{"pinId":"00000000000000000000000000000001","to":"41793026727","callStatus":"PROCESSING"}



=== TEST 25: client_max_body_size: canonical 413
--- config eval
"location /2fa/ { $::gateway client_max_body_size 10; proxy_pass http://127.0.0.1:1990; }"
--- request
POST /2fa/2/pin/00000000000000000000000000000001/resend/voice
{"placeholders":{"firstName":"John"}}
--- more_headers
Content-Type: application/json
--- error_code: 413
--- response_headers
Content-Type: application/json
--- response_body chomp
{"pinId":"00000000000000000000000000000001","to":null,"callStatus":"BAD_REQUEST","requestError":{"serviceException":{"messageId":"REQUEST_TOO_LARGE","text":"Request too large"}}}



=== TEST 26: $tfa_resend_call_status holds what was sent
--- config eval
"location /2fa/ { $::gateway add_header X-Call-Status \$tfa_resend_call_status always; proxy_pass http://127.0.0.1:1990; }"
--- request
POST /2fa/2/pin/0000000000000000000000000000000A/resend/voice
--- error_code: 200
--- response_headers
X-Call-Status: ERROR_NOT_ENOUGH_CREDITS



=== TEST 27: $tfa_resend_call_status is empty for a request not intercepted
--- config eval
"location /other/ { $::gateway add_header X-Call-Status \"[\$tfa_resend_call_status]\" always; proxy_pass http://127.0.0.1:1990; }"
--- request
POST /other/x
--- error_code: 200
--- response_headers
X-Call-Status: []
--- response_body chomp
raw upstream body



=== TEST 28: tfa_resend_normalize off: the upstream's answer as it was
--- config eval
"location /2fa/ { $::gateway tfa_resend_normalize off; proxy_pass http://127.0.0.1:1990; }"
--- request
POST /2fa/2/pin/00000000000000000000000000000001/resend/voice
--- error_code: 200
--- response_body chomp
{"pinId":"00000000000000000000000000000001","to":"41793026727","callStatus":"PENDING_ACCEPTED"}
