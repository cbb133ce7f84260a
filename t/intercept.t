# Interception of "resend PIN over voice": which requests are acted on, what
# is refused, and what exactly reaches the upstream.
#
# Two mock upstreams: an embedded TCP server (tcp_listen) that records the
# raw request bytes, for exact checks of what the upstream received; and an
# nginx server block that echoes the request line and the headers it got,
# for the many small cases.  The echo's answer is plain text, so the
# locations that use it turn the canonical response off
# (tfa_resend_normalize off), which leaves the module's own refusals
# canonical.

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib $FindBin::Bin;
use TfaResend;
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64);

# ports of their own, so that runs of other files may overlap with this one
$ENV{TEST_NGINX_TFA_MOCK_PORT} ||= free_port();
$ENV{TEST_NGINX_TFA_TCP_PORT} ||= free_port($ENV{TEST_NGINX_TFA_MOCK_PORT});

our $pin = '9C817C6F8AF3D48F9FE553282AFA2B67';
our $ours = 'Basic ' . encode_base64('alice:s3cret-Upstream', '');

# what nginx's proxy sends for a resend to "proxy_pass http://infobip;"
# with the proxy settings of $http_config below
sub upstream_request {
    my ($path, $body, @headers) = @_;

    my $req = "POST $path HTTP/1.0\r\nHost: infobip\r\nConnection: close\r\n";
    $req .= 'Content-Length: ' . length($body) . "\r\n" if length $body;
    # the module's own Accept goes just before its Authorization
    for my $h (@headers) {
        $req .= "Accept: application/json\r\n" if $h =~ /^Authorization:/;
        $req .= "$h\r\n";
    }

    return "$req\r\n$body";
}

sub infobip_reply {
    my $body = '{"pinId":"' . $pin
               . '","to":"41793026727","callStatus":"PENDING_ACCEPTED"}';

    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
           . 'Content-Length: ' . length($body) . "\r\n"
           . "Connection: close\r\n\r\n$body";
}

our $canonical_ok = canonical_ok($pin);

our $http_config = <<'_EOC_';
    # the upstream request upstream_request() spells out, stated so that it
    # is the same on every nginx version: 1.29.7 and later default to
    # HTTP/1.1 and send no "Connection: close"; 1.31.4 and later write Host
    # first whatever its place among proxy_set_header, so it comes first
    # here.  No connection is kept: each answer says "Connection: close".
    proxy_http_version 1.0;
    proxy_set_header Host $proxy_host;
    proxy_set_header Connection close;

    upstream infobip {
        server 127.0.0.1:$TEST_NGINX_TFA_TCP_PORT;
    }

    # echoes what it received; nginx itself answers 400 to a request with
    # two Authorization headers, so "auth=" is the one and only
    server {
        listen 127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
        default_type text/plain;

        # the mock logs what it received; keep that out of the gateway's log
        error_log logs/mock-error.log warn;

        location / {
            return 200 "$request_method $request_uri auth=[$http_authorization] ae=[$http_accept_encoding] x=[$http_x_custom]\n";
        }
    }
_EOC_

# the upstream secrets of this file: never in the gateway's log, plain or
# base64 (Test::Nginx logs at debug level unless told otherwise)
our @secrets = ('alice:s3cret-Upstream', encode_base64('alice:s3cret-Upstream', ''),
                '0123456789abcdef-Key');

add_block_preprocessor(sub {
    my $block = shift;

    add_no_error_log($block, @secrets);

    if (!defined $block->http_config) {
        $block->set_value('http_config', $http_config);
    }

    if (defined $block->tcp_reply && !defined $block->tcp_listen) {
        $block->set_value('tcp_listen', $ENV{TEST_NGINX_TFA_TCP_PORT});
    }
});

no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: upstream view: one Authorization (ours), path, no query, body byte for byte, no Accept-Encoding
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_pass_header X-Request-Id;
        proxy_pass http://infobip;
    }
--- more_headers
Content-Type: application/json
Authorization: Basic Y2xpZW50OmNsaWVudC1wYXNz
Accept-Encoding: gzip, deflate, br
X-Request-Id: t1
--- request
POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice?debug=1&to=41790000000
{"placeholders":{"firstName":"John","code":"  x  "},"trackDelivery":false}
--- tcp_query eval
::upstream_request("/2fa/2/pin/$::pin/resend/voice",
    '{"placeholders":{"firstName":"John","code":"  x  "},"trackDelivery":false}',
    'Content-Type: application/json', 'X-Request-Id: t1',
    "Authorization: $::ours")
--- tcp_reply eval: ::infobip_reply()
--- error_code: 200
--- response_body eval: $::canonical_ok
--- no_error_log
[error]



=== TEST 2: upstream view: no body and no client Authorization
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://infobip;
    }
--- request
POST /2fa/1/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice
--- tcp_query eval
::upstream_request("/2fa/1/pin/$::pin/resend/voice", '',
    "Authorization: $::ours")
--- tcp_reply eval: ::infobip_reply()
--- error_code: 200
--- response_body eval: $::canonical_ok



=== TEST 3: upstream view: "{}", a client App key replaced, unknown keys and escapes kept
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://infobip;
    }
--- more_headers
authorization: App client-own-api-key
Content-Type: application/json; charset=utf-8
--- request
POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice
{"trackDelivery":true,"placeholders":{"name":"Zo\u00eb \"Z\""},"campaign":[1,{"a":null}]}
--- tcp_query eval
::upstream_request("/2fa/2/pin/$::pin/resend/voice",
    '{"trackDelivery":true,"placeholders":{"name":"Zo\u00eb \"Z\""},"campaign":[1,{"a":null}]}',
    'Content-Type: application/json; charset=utf-8',
    "Authorization: $::ours")
--- tcp_reply eval: ::infobip_reply()
--- error_code: 200
--- response_body eval: $::canonical_ok



=== TEST 4: upstream view: the path re-encoded from the normalized URI; "..", "%39", "//" and the query gone
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://infobip;
    }
--- request
POST //2fa/2/pin/../pin/%39C817C6F8AF3D48F9FE553282AFA2B67/./resend/voice?pinId=../../x
--- tcp_query eval
::upstream_request("/2fa/2/pin/$::pin/resend/voice", '',
    "Authorization: $::ours")
--- tcp_reply eval: ::infobip_reply()
--- error_code: 200
--- response_body eval: $::canonical_ok



=== TEST 5: upstream view: whatever tfa_resend_pin_pattern lets through is sent escaped, raw bytes too, its ASCII letters in upper case
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_pin_pattern "^[^/]+$";
        proxy_pass http://infobip;
    }
--- raw_request eval
"POST /2fa/2/pin/Zo\xc3\xabx/resend/voice?q=1 HTTP/1.1\r
Host: localhost\r
Connection: close\r
\r
"
--- tcp_query eval
::upstream_request("/2fa/2/pin/ZO%C3%ABX/resend/voice", '',
    "Authorization: $::ours")
--- tcp_reply eval: ::infobip_reply()
--- error_code: 200



=== TEST 6: upstream view: a chunked body is forwarded whole, with its length
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://infobip;
    }
--- more_headers
Transfer-Encoding: chunked
Content-Type: application/json
--- request eval
"POST /2fa/2/pin/$::pin/resend/voice
8\r
{\"trackD\r
e\r
elivery\":true}\r
0\r
\r
"
--- tcp_query eval
::upstream_request("/2fa/2/pin/$::pin/resend/voice",
    '{"trackDelivery":true}',
    'Content-Type: application/json', "Authorization: $::ours")
--- tcp_reply eval: ::infobip_reply()
--- error_code: 200
--- response_body eval: $::canonical_ok



=== TEST 7: upstream view: a body larger than client_body_buffer_size (in a temporary file) is checked and forwarded
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        client_body_buffer_size 128;
        proxy_pass http://infobip;
    }
--- more_headers
Content-Type: application/json
--- request eval
"POST /2fa/2/pin/$::pin/resend/voice\n"
. '{"placeholders":{"firstName":"' . ('J' x 3000) . '"},"trackDelivery":true}'
--- tcp_query eval
::upstream_request("/2fa/2/pin/$::pin/resend/voice",
    '{"placeholders":{"firstName":"' . ('J' x 3000) . '"},"trackDelivery":true}',
    'Content-Type: application/json', "Authorization: $::ours")
--- tcp_reply eval: ::infobip_reply()
--- error_code: 200
--- response_body eval: $::canonical_ok
--- error_log
a client request body is buffered to a temporary file



=== TEST 8: upstream view: proxy_set_header for other headers, inherited from the server level
--- config
    proxy_set_header Host api.infobip.com;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header Connection close;

    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://infobip;
    }
--- more_headers
Authorization: Basic Y2xpZW50OmNsaWVudC1wYXNz
--- request
POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice
--- tcp_query eval
"POST /2fa/2/pin/$::pin/resend/voice HTTP/1.0\r\n"
. "Host: api.infobip.com\r\nX-Forwarded-For: 127.0.0.1\r\n"
. "Connection: close\r\nAccept: application/json\r\n"
. "Authorization: $::ours\r\n\r\n"
--- tcp_reply eval: ::infobip_reply()
--- error_code: 200
--- response_body eval: $::canonical_ok



=== TEST 9: upstream view: proxy_set_header for other headers at the location level
--- config
    proxy_set_header X-Forwarded-For $remote_addr;

    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_set_header Host $proxy_host;
        proxy_set_header X-Gateway tfa;
        proxy_set_header Connection close;
        proxy_pass http://infobip;
    }
--- more_headers
Authorization: Basic Y2xpZW50OmNsaWVudC1wYXNz
--- request
POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice
--- tcp_query eval
"POST /2fa/2/pin/$::pin/resend/voice HTTP/1.0\r\n"
. "Host: infobip\r\nX-Gateway: tfa\r\nConnection: close\r\n"
. "Accept: application/json\r\nAuthorization: $::ours\r\n\r\n"
--- tcp_reply eval: ::infobip_reply()
--- error_code: 200
--- response_body eval: $::canonical_ok



=== TEST 10: client Authorization: none
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- request
POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice
--- error_code: 200
--- response_body eval
"POST /2fa/2/pin/$::pin/resend/voice auth=[$::ours] ae=[] x=[]\n"



=== TEST 11: client Authorization: Basic, replaced
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_normalize off;
        tfa_resend_pass_header X-Custom;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Authorization: Basic Y2xpZW50OmNsaWVudC1wYXNz
X-Custom: kept
--- request
POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice
--- error_code: 200
--- response_body eval
"POST /2fa/2/pin/$::pin/resend/voice auth=[$::ours] ae=[] x=[kept]\n"



=== TEST 12: client Authorization: App, Bearer, IBSSO, garbage, empty, odd case: all replaced
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers eval
["Authorization: App client-key",
 "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.x",
 "Authorization: IBSSO 2f9b4a",
 "Authorization: !!! \x01garbage\t%00 :::",
 "Authorization: ",
 "aUtHoRiZaTiOn: Basic b2RkOmNhc2U=\nACCEPT-ENCODING: gzip"]
--- request eval
["POST /2fa/2/pin/$::pin/resend/voice",
 "POST /2fa/2/pin/$::pin/resend/voice",
 "POST /2fa/2/pin/$::pin/resend/voice",
 "POST /2fa/2/pin/$::pin/resend/voice",
 "POST /2fa/2/pin/$::pin/resend/voice",
 "POST /2fa/2/pin/$::pin/resend/voice"]
--- error_code eval
[200, 200, 200, 200, 200, 200]
--- response_body eval
[("POST /2fa/2/pin/$::pin/resend/voice auth=[$::ours] ae=[] x=[]\n") x 6]



=== TEST 13: client Authorization: several: nginx refuses the request, nothing is forwarded
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Authorization: Basic Y2xpZW50OmNsaWVudC1wYXNz
Authorization: App client-key
--- request
POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice
--- error_code: 400
--- response_body_unlike: auth=
--- error_log
client sent duplicate header line



=== TEST 14: app key credentials: "Authorization: App <key>"
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials app "0123456789abcdef-Key";
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Authorization: App client-key
--- request
POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice
--- error_code: 200
--- response_body eval
"POST /2fa/2/pin/$::pin/resend/voice auth=[App 0123456789abcdef-Key] ae=[] x=[]\n"



=== TEST 15: the client's own view is restored: $http_authorization and $tfa_resend_pin_id after proxying
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_normalize off;
        add_header X-Client-Auth "[$http_authorization]" always;
        add_header X-Client-AE "[$http_accept_encoding]" always;
        add_header X-Args "[$args]" always;
        add_header X-Pin-Id $tfa_resend_pin_id always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Authorization: Basic Y2xpZW50OmNsaWVudC1wYXNz
Accept-Encoding: identity
--- request
POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice?a=1
--- error_code: 200
--- response_headers
X-Client-Auth: [Basic Y2xpZW50OmNsaWVudC1wYXNz]
X-Client-AE: [identity]
X-Args: [a=1]
X-Pin-Id: 9C817C6F8AF3D48F9FE553282AFA2B67
--- response_body eval
"POST /2fa/2/pin/$::pin/resend/voice auth=[$::ours] ae=[] x=[]\n"



=== TEST 16: a lower-case hex pinId is valid, and forwarded in upper case; tfa_resend_pin_pattern replaces the default
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;

        location /2fa/1/ {
            tfa_resend on;
            tfa_resend_pin_pattern "^PIN-[0-9]{6}$";
            proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
        }
    }
--- request eval
["POST /2fa/2/pin/9c817c6f8af3d48f9fe553282afa2b67/resend/voice",
 "POST /2fa/1/pin/PIN-123456/resend/voice",
 "POST /2fa/1/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice"]
--- error_code eval
[200, 200, 400]
--- response_body eval
["POST /2fa/2/pin/$::pin/resend/voice auth=[$::ours] ae=[] x=[]\n",
 "POST /2fa/1/pin/PIN-123456/resend/voice auth=[$::ours] ae=[] x=[]\n",
 ::refusal(undef, 'BAD_REQUEST', 'invalid pinId')]



=== TEST 17: pinId attacks refused with the canonical 400 and never forwarded: space, non-ASCII, trailing newline, "?", "..", too long
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        add_header X-Pin-Id "[$tfa_resend_pin_id]" always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- request eval
["POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B%2067/resend/voice",
 "POST /2fa/2/pin/%C3%A9%C3%A9/resend/voice",
 "POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67%0A/resend/voice",
 "POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67%3F/resend/voice",
 "POST /2fa/2/pin/9C817C6F8AF3D48F9..FE553282AFA2B67/resend/voice",
 "POST /2fa/2/pin/%2E%2E%2E/resend/voice",
 "POST /2fa/2/pin/" . ('A' x 4096) . "/resend/voice",
 "POST /2fa/2/pin/" . ('A' x 33) . "/resend/voice"]
--- error_code eval
[(400) x 8]
--- response_headers eval
[("Content-Type: application/json\nX-Pin-Id: []") x 8]
--- response_body eval
[(::refusal(undef, 'BAD_REQUEST', 'invalid pinId')) x 8]



=== TEST 18: pinId attack: raw non-ASCII bytes in the request line
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- raw_request eval
"POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B\xc3\xa9/resend/voice HTTP/1.1\r
Host: localhost\r
Connection: close\r
\r
"
--- error_code: 400
--- response_body eval
::refusal(undef, 'BAD_REQUEST', 'invalid pinId')



=== TEST 19: pinId attack: %00 is refused by nginx itself, nothing is forwarded
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- request
POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67%00/resend/voice
--- error_code: 400
--- response_body_unlike: auth=
--- error_log
client sent invalid request



=== TEST 20: pinId attack: a raw space in the path never reaches the upstream
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- raw_request eval
"POST /2fa/2/pin/9C817C6F8AF3D48F9 FE553282AFA2B67/resend/voice HTTP/1.1\r
Host: localhost\r
Connection: close\r
\r
"
--- error_code: 400
--- response_body_unlike: auth=



=== TEST 21: pinId attack: an empty pinId ("//") is another path once slashes are merged: refused, never forwarded
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        add_header X-Pin-Id "[$tfa_resend_pin_id]" always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- request
POST /2fa/2/pin//resend/voice
--- error_code: 400
--- response_headers
X-Pin-Id: []
--- response_body eval
::refusal(undef, 'BAD_REQUEST', 'not a resend path: /2fa/{1|2}/pin/{pinId}/resend/voice expected')



=== TEST 22: pinId attack: an empty pinId with merge_slashes off is refused
--- config
    merge_slashes off;

    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- request
POST /2fa/2/pin//resend/voice
--- error_code: 400
--- response_body eval
::refusal(undef, 'BAD_REQUEST', 'invalid pinId')



=== TEST 23: pinId attacks that make another path (%2F, "..", a trailing slash) are refused with the canonical 400, never forwarded
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        add_header X-Pin-Id "[$tfa_resend_pin_id]" always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Authorization: Basic Y2xpZW50OmNsaWVudC1wYXNz
--- request eval
["POST /2fa/2/pin/9C817C6F8AF3D48F%2F9FE553282AFA2B67/resend/voice",
 "POST /2fa/2/pin/..%2F9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice",
 "POST /2fa/2/pin/%2E%2E/resend/voice",
 "POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice/"]
--- error_code eval
[400, 400, 400, 400]
--- response_headers eval
[("X-Pin-Id: []") x 4]
--- response_body eval
[(::refusal(undef, 'BAD_REQUEST', 'not a resend path: /2fa/{1|2}/pin/{pinId}/resend/voice expected')) x 4]



=== TEST 24: other 2FA paths are proxied untouched, with the client's Authorization, as plain proxying would
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        add_header X-Pin-Id "[$tfa_resend_pin_id]" always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Authorization: App client-key
Accept-Encoding: gzip
--- request eval
["GET /2fa/2/applications?page=1",
 "POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend",
 "POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/verify",
 "POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/sms",
 "POST /2fa/2/pin",
 "GET /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/status"]
--- error_code eval
[(200) x 6]
--- response_headers eval
[("X-Pin-Id: []") x 6]
--- response_body eval
["GET /2fa/2/applications?page=1 auth=[App client-key] ae=[gzip] x=[]\n",
 "POST /2fa/2/pin/$::pin/resend auth=[App client-key] ae=[gzip] x=[]\n",
 "POST /2fa/2/pin/$::pin/verify auth=[App client-key] ae=[gzip] x=[]\n",
 "POST /2fa/2/pin/$::pin/resend/sms auth=[App client-key] ae=[gzip] x=[]\n",
 "POST /2fa/2/pin auth=[App client-key] ae=[gzip] x=[]\n",
 "GET /2fa/2/pin/$::pin/status auth=[App client-key] ae=[gzip] x=[]\n"]



=== TEST 25: a location with tfa_resend off is not intercepted
--- config
    tfa_resend on;
    tfa_resend_credentials basic "alice:s3cret-Upstream";

    location /2fa/ {
        tfa_resend off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Authorization: App client-key
--- request
GET /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice
--- error_code: 200
--- response_body
GET /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice auth=[App client-key] ae=[] x=[]



=== TEST 26: methods other than POST: 405, Allow: POST, canonical body with the valid pinId
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- request eval
["GET /2fa/2/pin/$::pin/resend/voice",
 "PUT /2fa/2/pin/$::pin/resend/voice\n{}",
 "DELETE /2fa/2/pin/$::pin/resend/voice",
 "OPTIONS /2fa/2/pin/$::pin/resend/voice",
 "PATCH /2fa/2/pin/$::pin/resend/voice\n{}"]
--- error_code eval
[(405) x 5]
--- response_headers eval
[("Allow: POST\nContent-Type: application/json") x 5]
--- response_body eval
[(::refusal($::pin, 'METHOD_NOT_ALLOWED', 'only POST is allowed')) x 5]



=== TEST 27: HEAD: 405 and Allow: POST, no body
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- request
HEAD /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice
--- error_code: 405
--- response_headers
Allow: POST
Content-Type: application/json
--- response_body



=== TEST 28: GET with a bad pinId: 405 first, the pinId stays out of the body
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- request
GET /2fa/2/pin/not-a-pin/resend/voice
--- error_code: 405
--- response_headers
Allow: POST
--- response_body eval
::refusal(undef, 'METHOD_NOT_ALLOWED', 'only POST is allowed')



=== TEST 29: bodies refused with the canonical 400: malformed, not an object, wrong types, duplicate keys
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Content-Type: application/json
--- request eval
["POST /2fa/2/pin/$::pin/resend/voice\n{\"placeholders\":",
 "POST /2fa/2/pin/$::pin/resend/voice\n[{\"trackDelivery\":true}]",
 "POST /2fa/2/pin/$::pin/resend/voice\n\"trackDelivery\"",
 "POST /2fa/2/pin/$::pin/resend/voice\n{\"placeholders\":[\"John\"]}",
 "POST /2fa/2/pin/$::pin/resend/voice\n{\"placeholders\":{\"firstName\":1}}",
 "POST /2fa/2/pin/$::pin/resend/voice\n{\"trackDelivery\":\"false\"}",
 "POST /2fa/2/pin/$::pin/resend/voice\n{\"trackDelivery\":true,\"trackDelivery\":false}",
 "POST /2fa/2/pin/$::pin/resend/voice\n{} {}"]
--- error_code eval
[(400) x 8]
--- response_body eval
[::refusal($::pin, 'BAD_REQUEST', 'body is not valid JSON'),
 ::refusal($::pin, 'BAD_REQUEST', 'body must be a JSON object'),
 ::refusal($::pin, 'BAD_REQUEST', 'body must be a JSON object'),
 ::refusal($::pin, 'BAD_REQUEST', 'placeholders must be an object of strings'),
 ::refusal($::pin, 'BAD_REQUEST', 'placeholders must be an object of strings'),
 ::refusal($::pin, 'BAD_REQUEST', 'trackDelivery must be a boolean'),
 ::refusal($::pin, 'BAD_REQUEST', 'body is not valid JSON'),
 ::refusal($::pin, 'BAD_REQUEST', 'body is not valid JSON')]



=== TEST 30: a body in a temporary file is checked too
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        client_body_buffer_size 128;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Content-Type: application/json
--- request eval
"POST /2fa/2/pin/$::pin/resend/voice\n"
. '{"placeholders":{"firstName":"' . ('J' x 3000) . '"},"trackDelivery":1}'
--- error_code: 400
--- response_body eval
::refusal($::pin, 'BAD_REQUEST', 'trackDelivery must be a boolean')



=== TEST 31: another content type with a body: 415; a missing one too; an empty body needs none
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers eval
["Content-Type: application/x-www-form-urlencoded",
 "Content-Type: text/plain",
 "Content-Type: application/jsonp",
 "X-Custom: no content type",
 "Content-Type: text/plain\nTransfer-Encoding: chunked",
 "Content-Type: text/plain"]
--- request eval
["POST /2fa/2/pin/$::pin/resend/voice\ntrackDelivery=true",
 "POST /2fa/2/pin/$::pin/resend/voice\n{}",
 "POST /2fa/2/pin/$::pin/resend/voice\n{}",
 "POST /2fa/2/pin/$::pin/resend/voice\n{}",
 "POST /2fa/2/pin/$::pin/resend/voice\n2\r\n{}\r\n0\r\n\r\n",
 "POST /2fa/2/pin/$::pin/resend/voice"]
--- error_code eval
[415, 415, 415, 415, 415, 200]
--- response_body eval
[(::refusal($::pin, 'UNSUPPORTED_MEDIA_TYPE', 'body must be application/json')) x 5,
 "POST /2fa/2/pin/$::pin/resend/voice auth=[$::ours] ae=[] x=[]\n"]



=== TEST 32: client_max_body_size applies: canonical 413 (Content-Length), never forwarded
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        client_max_body_size 64;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Content-Type: application/json
--- request eval
"POST /2fa/2/pin/$::pin/resend/voice\n"
. '{"placeholders":{"firstName":"' . ('J' x 100) . '"}}'
--- error_code: 413
--- response_body eval
::refusal($::pin, 'REQUEST_TOO_LARGE', 'Request too large')
--- error_log
client intended to send too large body



=== TEST 33: client_max_body_size applies to a chunked body: canonical 413
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        client_max_body_size 64;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Content-Type: application/json
Transfer-Encoding: chunked
--- request eval
my $data = '{"placeholders":{"firstName":"' . ('J' x 100) . '"}}';
"POST /2fa/2/pin/$::pin/resend/voice\n"
. sprintf("%x\r\n%s\r\n0\r\n\r\n", length $data, $data)
--- error_code: 413
--- response_body eval
::refusal($::pin, 'REQUEST_TOO_LARGE', 'Request too large')
--- error_log
client intended to send too large chunked body



=== TEST 34: auth_basic runs first: wrong gateway credentials get 401 and are not forwarded
--- user_files
>>> htpasswd
gateway-user:{PLAIN}gateway-pass
--- config
    location /2fa/ {
        auth_basic "tfa";
        auth_basic_user_file ../html/htpasswd;
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Authorization: Basic Z2F0ZXdheS11c2VyOndyb25n
--- request
POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice
--- error_code: 401
--- response_body_unlike: auth=



=== TEST 35: auth_basic runs first: the client's gateway credentials are then replaced, never forwarded
--- user_files
>>> htpasswd
gateway-user:{PLAIN}gateway-pass
--- config
    location /2fa/ {
        auth_basic "tfa";
        auth_basic_user_file ../html/htpasswd;
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_normalize off;
        add_header X-User $remote_user always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Authorization: Basic Z2F0ZXdheS11c2VyOmdhdGV3YXktcGFzcw==
--- request
POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice
--- error_code: 200
--- response_headers
X-User: gateway-user
--- response_body eval
"POST /2fa/2/pin/$::pin/resend/voice auth=[$::ours] ae=[] x=[]\n"



=== TEST 36: allow/deny runs first: a denied client gets 403, nothing is forwarded
--- config
    location /2fa/ {
        deny all;
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- request
POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice
--- error_code: 403
--- response_body_unlike: auth=
--- error_log
access forbidden by rule



=== TEST 37: allow/deny runs first: an allowed client is intercepted
--- config
    location /2fa/ {
        allow 127.0.0.1;
        deny all;
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- request
POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice
--- error_code: 200
--- response_body eval
"POST /2fa/2/pin/$::pin/resend/voice auth=[$::ours] ae=[] x=[]\n"



=== TEST 38: auth_request runs first, with the client's own credentials; then they are replaced
--- config
    location /2fa/ {
        auth_request /gateway-auth;
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }

    location = /gateway-auth {
        internal;
        if ($http_authorization != "Basic Z2F0ZXdheS11c2VyOmdhdGV3YXktcGFzcw==") {
            return 403;
        }
        return 204;
    }
--- more_headers eval
["Authorization: Basic Z2F0ZXdheS11c2VyOmdhdGV3YXktcGFzcw==",
 "Authorization: Basic Z2F0ZXdheS11c2VyOndyb25n"]
--- request eval
["POST /2fa/2/pin/$::pin/resend/voice", "POST /2fa/2/pin/$::pin/resend/voice"]
--- error_code eval
[200, 403]
--- response_body_like eval
['^' . quotemeta("POST /2fa/2/pin/$::pin/resend/voice auth=[$::ours] ae=[] x=[]") . '\n$',
 '^(?!.*auth=)']



=== TEST 39: internal redirects: a rewrite to a resend is intercepted with its new URI; error_page makes it a GET (405)
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }

    location /legacy/ {
        rewrite ^/legacy/(.*)$ /2fa/2/pin/$1/resend/voice last;
    }

    location = /legacy-error {
        error_page 418 = /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice;
        return 418;
    }
--- more_headers
Authorization: App client-key
--- request eval
["POST /legacy/9C817C6F8AF3D48F9FE553282AFA2B67?x=1",
 "POST /legacy-error"]
--- error_code eval
[200, 405]
--- response_body eval
["POST /2fa/2/pin/$::pin/resend/voice auth=[$::ours] ae=[] x=[]\n",
 ::refusal($::pin, 'METHOD_NOT_ALLOWED', 'only POST is allowed')]



=== TEST 40: tfa_resend_pin_case upper (the default): a pinId in any case is forwarded in upper case, byte for byte; the variable and the canonical pinId (the upstream sent none) too
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        add_header X-Pin-Id "[$tfa_resend_pin_id]" always;
        proxy_pass http://infobip;
    }
--- request
POST /2fa/2/pin/9c817C6f8aF3d48f9fe553282afa2B67/resend/voice
--- tcp_query eval
::upstream_request("/2fa/2/pin/$::pin/resend/voice", '',
    "Authorization: $::ours")
--- tcp_reply eval
my $body = '{"to":"41793026727","callStatus":"PENDING_ACCEPTED"}';
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
. 'Content-Length: ' . length($body) . "\r\nConnection: close\r\n\r\n$body"
--- error_code: 200
--- response_headers eval
"X-Pin-Id: [$::pin]"
--- response_body eval: $::canonical_ok



=== TEST 41: tfa_resend_pin_case lower and off, inherited from the server level; an invalid value fails nginx -t
--- init
my ($rc, $out) = ::nginx_t('tfa_resend_pin_case mixed;');
Test::More::isnt($rc, 0, 'TEST 41: nginx -t fails on tfa_resend_pin_case mixed');
Test::More::like($out, qr/\[emerg\] .*invalid value "mixed" in .*nginx\.conf:\d+/,
                 'TEST 41: a clear [emerg]');
--- config
    tfa_resend_pin_case lower;

    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_normalize off;
        add_header X-Pin-Id "[$tfa_resend_pin_id]" always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;

        location /2fa/1/ {
            tfa_resend on;
            tfa_resend_pin_case off;
            proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
        }
    }
--- request eval
["POST /2fa/2/pin/9C817C6F8aF3d48f9fe553282afa2B67/resend/voice",
 "POST /2fa/1/pin/9C817C6F8aF3d48f9fe553282afa2B67/resend/voice"]
--- error_code eval
[200, 200]
--- response_headers eval
["X-Pin-Id: [9c817c6f8af3d48f9fe553282afa2b67]",
 "X-Pin-Id: [9C817C6F8aF3d48f9fe553282afa2B67]"]
--- response_body eval
["POST /2fa/2/pin/9c817c6f8af3d48f9fe553282afa2b67/resend/voice auth=[$::ours] ae=[] x=[]\n",
 "POST /2fa/1/pin/9C817C6F8aF3d48f9fe553282afa2B67/resend/voice auth=[$::ours] ae=[] x=[]\n"]



=== TEST 42: a prefix mount: "location /otp/" with "proxy_pass http://infobip/;" is intercepted; the upstream gets the API's path with the folded pinId, byte for byte
--- config
    location /otp/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://infobip/;
    }
--- more_headers
Authorization: App client-key
--- request
POST /otp/2fa/2/pin/9c817c6f8af3d48f9fe553282afa2b67/resend/voice?x=1
--- tcp_query eval
::upstream_request("/2fa/2/pin/$::pin/resend/voice", '',
    "Authorization: $::ours")
--- tcp_reply eval: ::infobip_reply()
--- error_code: 200
--- response_body eval: $::canonical_ok



=== TEST 43: a prefix mount of the same shape as it came: proxy_pass's URI part replaces the location's prefix, nothing is re-encoded
--- config
    location /otp/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://infobip/api/;
    }
--- request eval
"POST /otp/2fa/1/pin/$::pin/resend/voice"
--- tcp_query eval
::upstream_request("/api/2fa/1/pin/$::pin/resend/voice", '',
    "Authorization: $::ours")
--- tcp_reply eval: ::infobip_reply()
--- error_code: 200
--- response_body eval: $::canonical_ok



=== TEST 44: after a rewrite ... break: the rewritten URI is checked, and the upstream gets it with the folded pinId
--- config
    location /v1/ {
        rewrite ^/v1/(.*)$ /gateway/$1 break;
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://infobip;
    }
--- request
POST /v1/2fa/2/pin/9c817c6f8af3d48f9fe553282afa2b67/resend/voice
--- tcp_query eval
::upstream_request("/gateway/2fa/2/pin/$::pin/resend/voice", '',
    "Authorization: $::ours")
--- tcp_reply eval: ::infobip_reply()
--- error_code: 200
--- response_body eval: $::canonical_ok



=== TEST 45: no unchecked resend: every near miss of the resend path, raw or as nginx normalized it, gets the canonical 400 and is never forwarded
--- config
    location ~ ^/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        add_header X-Pin-Id "[$tfa_resend_pin_id]" always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- request eval
[map { "POST $_" }
 "/2fa/2/pin/$::pin/resend/voice;jsessionid=0123",
 "/2fa/2/pin/$::pin/resend/VOICE",
 "/2fa/2/pin/$::pin/Resend/Voice",
 "/2fa/2/pin/$::pin/resend/voice%2F",
 "/2fa/2/pin/$::pin/resend/voice/..",
 "/2fa/2/pin/$::pin/resend/voice/x",
 "/2fa/3/pin/$::pin/resend/voice",
 "/2FA/2/PIN/$::pin/resend/voice",
 "/otp/2fa/2/pin/$::pin/resend/voice/",
 "/resend/voice"]
--- error_code eval
[(400) x 10]
--- response_headers eval
[("X-Pin-Id: []") x 10]
--- response_body eval
[(::refusal(undef, 'BAD_REQUEST', 'not a resend path: /2fa/{1|2}/pin/{pinId}/resend/voice expected')) x 10]



=== TEST 46: in a location with tfa_resend on, the other 2FA calls and paths that only look alike are left alone
--- config
    location ~ ^/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        add_header X-Pin-Id "[$tfa_resend_pin_id]" always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- request eval
[map { "POST $_" }
 "/otp/2fa/2/pin/$::pin/resend",
 "/2fa/2/pin/$::pin/resend/sms",
 "/2fa/2/pin/$::pin/verify",
 "/2fa/2/pin?ncNeeded=false"]
--- error_code eval
[(200) x 4]
--- response_headers eval
[("X-Pin-Id: []") x 4]
--- response_body eval
["POST /otp/2fa/2/pin/$::pin/resend auth=[] ae=[] x=[]\n",
 "POST /2fa/2/pin/$::pin/resend/sms auth=[] ae=[] x=[]\n",
 "POST /2fa/2/pin/$::pin/verify auth=[] ae=[] x=[]\n",
 "POST /2fa/2/pin?ncNeeded=false auth=[] ae=[] x=[]\n"]



=== TEST 47: "/resend%2Fvoice" is the resend once decoded: intercepted, and the upstream gets the path that was checked
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://infobip;
    }
--- request
POST /2fa/2/pin/9c817c6f8af3d48f9fe553282afa2b67/resend%2Fvoice
--- tcp_query eval
::upstream_request("/2fa/2/pin/$::pin/resend/voice", '',
    "Authorization: $::ours")
--- tcp_reply eval: ::infobip_reply()
--- error_code: 200
--- response_body eval: $::canonical_ok
