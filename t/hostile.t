# Hostile clients: request smuggling shapes, oversized and
# repeated headers, method override headers, pinIds in every encoding,
# bodies nested 10,000 deep, huge strings, invalid UTF-8, a body announced
# but never sent.  Each gets a clean 4xx with the canonical body, or
# nginx's own refusal; nothing reaches the upstream that should not; no
# worker crashes.
#
# The upstream's view: a mock server block (on a random port) writes one
# access log line per request it receives, prefixed "MOCK", to the same
# logs/access.log that --- access_log and --- no_access_log read.  For the
# byte-exact view, the embedded TCP server on 1998 (this file's own port).
#
# nginx runs with a master process so that a worker that crashes shows up
# as "exited on signal" in the error log.

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib $FindBin::Bin;
use TfaResend;
use MIME::Base64 qw(encode_base64);

our $pin = '9C817C6F8AF3D48F9FE553282AFA2B67';
our $ours = 'Basic ' . encode_base64('alice:s3cret-Upstream', '');

sub bad_pin { refusal(undef, 'BAD_REQUEST', 'invalid pinId') }
sub bad_json { refusal($pin, 'BAD_REQUEST', 'body is not valid JSON') }

our $canonical_ok = canonical_ok($pin);

# what the mock logs for a resend that reached it ("-": no such header)
sub mock_line {
    my $cl = shift;
    return "MOCK POST /2fa/2/pin/$pin/resend/voice auth=[$ours] "
           . "override=[-|-|-|-|-] te=[-] cl=[$cl]";
}

# a raw HTTP/1.1 request: request line, header lines, body
sub raw {
    my ($line, $headers, $body) = @_;
    $line = "POST /2fa/2/pin/$pin/resend/voice HTTP/1.1" unless defined $line;
    return "$line\r\nHost: localhost\r\nConnection: close\r\n"
           . join('', map { "$_\r\n" } @{ $headers || [] })
           . "\r\n" . ($body // '');
}

sub nested {
    my ($depth, $open, $close, $inner) = @_;
    return ($open x $depth) . ($inner // '') . ($close x $depth);
}

our $http_config = <<'_EOC_';
    log_format tfa_mock 'MOCK $request_method $request_uri auth=[$http_authorization] override=[$http_x_http_method_override|$http_x_http_method|$http_x_method_override|$http_x_original_url|$http_x_rewrite_url] te=[$http_transfer_encoding] cl=[$http_content_length]';

    # the upstream: logs what it received, answers like Infobip
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        default_type application/json;
        access_log logs/access.log tfa_mock;
        error_log logs/mock-error.log;

        location / {
            return 200 '{"to":"41793026727","callStatus":"PENDING_ACCEPTED"}';
        }
    }
_EOC_

our $config = <<'_EOC_';
    client_header_timeout 1s;
    client_body_timeout 1s;

    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        client_max_body_size 64k;
        tfa_resend_max_body_size 64k;     # the parser sees them all
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', $http_config)
        unless defined $block->http_config;
    $block->set_value('config', $config)
        unless defined $block->config;

    # no crash, whatever the client sent; the secret never logged
    add_no_error_log($block, 'exited on signal', '[alert]', '[crit]',
                     's3cret-Upstream');

    $block->set_value('timeout', 10) unless defined $block->timeout;
});

master_on();
workers(1);
no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: control: a valid resend reaches the mock once, with our credentials only
--- more_headers
Content-Type: application/json
--- request eval
"POST /2fa/2/pin/$::pin/resend/voice\n{\"trackDelivery\":true}"
--- error_code: 200
--- response_body eval: $::canonical_ok
--- access_log eval: ::mock_line(22)



=== TEST 2: smuggling: Content-Length and Transfer-Encoding together: nginx refuses, nothing forwarded
--- raw_request eval
::raw(undef, ['Content-Length: 5', 'Transfer-Encoding: chunked'],
      "0\r\n\r\nPOST /2fa/2/pin/$::pin/resend/voice HTTP/1.1\r\nHost: x\r\n\r\n")
--- error_code: 400
--- response_body_unlike: PROCESSING
--- no_access_log
MOCK
--- error_log
client sent "Content-Length" and "Transfer-Encoding" headers at the same time



=== TEST 3: smuggling: Transfer-Encoding before Content-Length: refused the same
--- raw_request eval
::raw(undef, ['Transfer-Encoding: chunked', 'Content-Length: 2'],
      "2\r\n{}\r\n0\r\n\r\n")
--- error_code: 400
--- no_access_log
MOCK



=== TEST 4: smuggling: duplicate Content-Length, same value: refused, nothing forwarded
--- raw_request eval
::raw(undef, ['Content-Type: application/json', 'Content-Length: 2',
              'Content-Length: 2'], '{}')
--- error_code: 400
--- no_access_log
MOCK
--- error_log
client sent duplicate header line: "Content-Length: 2"



=== TEST 5: smuggling: duplicate Content-Length, different values: refused, nothing forwarded
--- raw_request eval
::raw(undef, ['Content-Type: application/json', 'Content-Length: 2',
              'content-length: 40'], '{}')
--- error_code: 400
--- no_access_log
MOCK



=== TEST 6: smuggling: Transfer-Encoding other than chunked: nginx's own 501, nothing forwarded
--- raw_request eval
[::raw(undef, ['Content-Type: application/json', 'Transfer-Encoding: gzip, chunked'],
       "2\r\n{}\r\n0\r\n\r\n")]
--- error_code: 501
--- no_access_log
MOCK
--- error_log
client sent unknown "Transfer-Encoding"



=== TEST 7: smuggling: a Content-Length that is not a number: refused
--- raw_request eval
::raw(undef, ['Content-Type: application/json', 'Content-Length: +2'], '{}')
--- error_code: 400
--- no_access_log
MOCK
--- error_log
client sent invalid "Content-Length" header



=== TEST 8: smuggling: chunked in HTTP/1.0: refused
--- raw_request eval
::raw("POST /2fa/2/pin/$::pin/resend/voice HTTP/1.0",
      ['Content-Type: application/json', 'Transfer-Encoding: chunked'],
      "2\r\n{}\r\n0\r\n\r\n")
--- error_code: 400
--- no_access_log
MOCK



=== TEST 9: smuggling: an oversized chunk size: refused
--- raw_request eval
::raw(undef, ['Content-Type: application/json', 'Transfer-Encoding: chunked'],
      "fffffffffffffffffffff\r\n{}\r\n0\r\n\r\n")
--- error_code: 400
--- no_access_log
MOCK
--- error_log
client sent invalid chunked body



=== TEST 10: smuggling: a request hidden after the last chunk is a request of its own, checked on its own
--- pipelined_requests eval
["POST /2fa/2/pin/$::pin/resend/voice\n2\r\n{}\r\n0\r\n\r\n",
 "POST /2fa/2/pin/not-a-pin/resend/voice"]
--- more_headers eval
["Content-Type: application/json\nTransfer-Encoding: chunked", ""]
--- error_code eval: [200, 400]
--- response_body eval: [$::canonical_ok, ::bad_pin()]
--- access_log eval: ::mock_line(2)
--- no_access_log eval: [qr/^MOCK.*not-a-pin/]



=== TEST 11: smuggling: an Authorization in a chunked body's trailer never reaches the upstream
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_http_version 1.0;
        proxy_set_header Host $proxy_host;
        proxy_set_header Connection close;
        proxy_pass http://127.0.0.1:1998;
    }
--- raw_request eval
::raw(undef, ['Content-Type: application/json', 'Transfer-Encoding: chunked'],
      "2\r\n{}\r\n0\r\nAuthorization: Basic ZXZpbDpldmls\r\nX-HTTP-Method-Override: DELETE\r\n\r\n")
--- tcp_listen: 1998
--- tcp_query eval
"POST /2fa/2/pin/$::pin/resend/voice HTTP/1.0\r\nHost: 127.0.0.1:1998\r\n"
. "Connection: close\r\nContent-Length: 2\r\nContent-Type: application/json\r\n"
. "Accept: application/json\r\nAuthorization: $::ours\r\n\r\n{}"
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 52\r\nConnection: close\r\n\r\n"
. '{"to":"41793026727","callStatus":"PENDING_ACCEPTED"}'
--- error_code: 200
--- response_body eval: $::canonical_ok



=== TEST 12: smuggling: a header name with a space before the colon ("Transfer-Encoding : chunked"): refused, nothing forwarded
--- raw_request eval
::raw(undef, ['Content-Type: application/json', 'Content-Length: 2',
              'Transfer-Encoding : chunked'], '{}')
--- error_code: 400
--- no_access_log
MOCK
--- error_log
client sent invalid header line



=== TEST 13: oversized header: nginx's own 400, nothing forwarded
--- raw_request eval
::raw(undef, ['X-Filler: ' . ('x' x 16384)])
--- error_code: 400
--- response_body_like: Request Header Or Cookie Too Large
--- no_access_log
MOCK



=== TEST 14: oversized request line: nginx's own 414, nothing forwarded
--- raw_request eval
::raw("POST /2fa/2/pin/" . ('A' x 16384) . "/resend/voice HTTP/1.1")
--- error_code: 414
--- no_access_log
MOCK



=== TEST 15: thousands of small headers: nginx's own 400, nothing forwarded
--- raw_request eval
::raw(undef, [map { "X-Filler-$_: y" } 1 .. 4000])
--- error_code: 400
--- no_access_log
MOCK



=== TEST 16: many Authorization headers: nginx refuses, nothing forwarded
--- raw_request eval
::raw(undef, [map { "Authorization: Basic " . MIME::Base64::encode_base64("u$_:p", '') } 1 .. 50])
--- error_code: 400
--- no_access_log
MOCK
--- error_log
client sent duplicate header line: "Authorization



=== TEST 17: two Authorization headers in different case: refused the same
--- raw_request eval
::raw(undef, ['authorization: App a', 'AUTHORIZATION: App b'])
--- error_code: 400
--- no_access_log
MOCK



=== TEST 18: an Authorization folded over two lines (obs-fold) is refused, not glued
--- raw_request eval
::raw(undef, ['Authorization: Basic Y2xpZW50', ' OmNsaWVudC1wYXNz'])
--- error_code: 400
--- no_access_log
MOCK



=== TEST 19: method override headers on a POST never reach the upstream: it gets a POST and nothing else
--- more_headers
X-HTTP-Method-Override: DELETE
X-HTTP-Method: PUT
X-Method-Override: GET
--- request eval
"POST /2fa/2/pin/$::pin/resend/voice"
--- error_code: 200
--- response_body eval: $::canonical_ok
--- access_log eval: ::mock_line('-')
--- no_access_log eval: [qr/^MOCK.*(?:DELETE|PUT|GET)/]



=== TEST 20: a method override cannot make another method a resend: 405, nothing forwarded
--- more_headers
X-HTTP-Method-Override: POST
--- request eval
["GET /2fa/2/pin/$::pin/resend/voice",
 "PUT /2fa/2/pin/$::pin/resend/voice\n{}",
 "DELETE /2fa/2/pin/$::pin/resend/voice"]
--- error_code eval: [405, 405, 405]
--- response_headers eval: [("Allow: POST\nContent-Type: application/json") x 3]
--- response_body eval
[(::refusal($::pin, 'METHOD_NOT_ALLOWED', 'only POST is allowed')) x 3]
--- no_access_log
MOCK



=== TEST 21: pinIds in every encoding that does not decode to a valid pinId: canonical 400, nothing forwarded
--- request eval
[map { "POST /2fa/2/pin/$_/resend/voice" }
 '9C817C6F8AF3D48F%252F9FE553282AFA2B67',     # double-encoded "/"
 '9C817C6F8AF3D48F%C0%AF9FE553282AFA2B6',     # overlong UTF-8 "/"
 '9C817C6F8AF3D48F%E0%80%AF9FE553282AFA2B',   # 3-byte overlong "/"
 '%EF%BC%99C817C6F8AF3D48F9FE553282AFA2B67',  # fullwidth digit nine
 '9C817C6F8AF3D48F9FE553282AFA2B6%E2%80%8B',  # zero-width space
 '9C817C6F8AF3D48F9FE553282AFA2B67%0D%0AX-Injected:%201',  # CRLF
 '9C817C6F8AF3D48F9FE553282AFA2B67%09',       # tab
 '9C817C6F8AF3D48F9FE553282AFA2B6%2B',        # "+"
 '9C817C6F8AF3D48F9FE553282AFA2B67;x=1',      # path parameter
 '9C817C6F8AF3D48F9FE553282AFA2B67%3Bx',      # encoded ";"
 '9C817C6F8AF3D48F9FE553282AFA2B6%5C',        # backslash
 '9C817C6F8AF3D48F9FE553282AFA2B67%FF',       # a lone high byte
 '%D9%A9C817C6F8AF3D48F9FE553282AFA2B67']     # Arabic-Indic digit nine
--- error_code eval: [(400) x 13]
--- response_headers eval: [("Content-Type: application/json") x 13]
--- response_body eval: [(::bad_pin()) x 13]
--- no_access_log
MOCK



=== TEST 22: pinIds that nginx itself refuses to decode: its own 400, nothing forwarded
--- request eval
[map { "POST /2fa/2/pin/$_/resend/voice" }
 '9C817C6F8AF3D48F9FE553282AFA2B67%00',       # NUL
 '9C817C6F8AF3D48F9FE553282AFA2B%u0041',      # IIS-style %u escape
 '9C817C6F8AF3D48F9FE553282AFA2B6%G7']        # not hex after "%"
--- error_code eval: [400, 400, 400]
--- no_access_log
MOCK



=== TEST 23: a pinId encoded byte by byte is the pinId: the upstream gets it decoded, with our credentials
--- request eval
"POST /2fa/2/pin/" . CORE::join('', map { sprintf '%%%02X', ord } split //, $::pin) . "/resend/voice"
--- error_code: 200
--- response_body eval: $::canonical_ok
--- access_log eval: ::mock_line('-')
--- no_access_log eval: [qr/^MOCK.*%39/]



=== TEST 24: encodings that make another path of a resend are refused (or not routed here at all), never proxied
--- request eval
[map { "POST /2fa/2/pin/$_/resend/voice" }
 '9C817C6F8AF3D48F%2F9FE553282AFA2B67',
 '9C817C6F8AF3D48F%2f9FE553282AFA2B67',
 '..%2F..%2F..%2Fpin%2F9C817C6F8AF3D48F9FE553282AFA2B67']
--- error_code eval: [400, 400, 404]
--- no_access_log
MOCK



=== TEST 25: a body nested 10,000 deep (arrays): canonical 400, nothing forwarded
--- more_headers
Content-Type: application/json
--- request eval
"POST /2fa/2/pin/$::pin/resend/voice\n" . ::nested(10000, '[', ']')
--- error_code: 400
--- response_body eval: ::bad_json()
--- no_access_log
MOCK



=== TEST 26: a body nested 10,000 deep (objects, under an unknown key and under placeholders): canonical 400
--- more_headers
Content-Type: application/json
--- request eval
["POST /2fa/2/pin/$::pin/resend/voice\n{\"x\":" . ::nested(10000, '{"a":', '}', '1') . '}',
 "POST /2fa/2/pin/$::pin/resend/voice\n{\"placeholders\":" . ::nested(10000, '{"a":', '}', '"s"') . '}']
--- error_code eval: [400, 400]
--- response_body eval: [::bad_json(), ::bad_json()]
--- no_access_log
MOCK



=== TEST 27: a body nested 10,000 deep, never closed: canonical 400
--- more_headers
Content-Type: application/json
--- request eval
"POST /2fa/2/pin/$::pin/resend/voice\n" . ('{"a":[' x 10000)
--- error_code: 400
--- response_body eval: ::bad_json()
--- no_access_log
MOCK



=== TEST 28: a huge string within client_max_body_size is a valid body: forwarded whole
--- more_headers
Content-Type: application/json
--- request eval
"POST /2fa/2/pin/$::pin/resend/voice\n{\"placeholders\":{\"name\":\"" . ('x' x 65000) . '"}}'
--- error_code: 200
--- response_body eval: $::canonical_ok
--- access_log eval
::mock_line(length('{"placeholders":{"name":"' . ('x' x 65000) . '"}}'))



=== TEST 29: a huge string over client_max_body_size: canonical 413, nothing forwarded
--- more_headers
Content-Type: application/json
--- request eval
"POST /2fa/2/pin/$::pin/resend/voice\n{\"placeholders\":{\"name\":\"" . ('x' x (1024 * 1024)) . '"}}'
--- error_code: 413
--- response_body eval: ::refusal($::pin, 'REQUEST_TOO_LARGE', 'Request too large')
--- no_access_log
MOCK



=== TEST 30: a huge key, a huge number, a huge run of white space: canonical 400, nothing forwarded
--- more_headers
Content-Type: application/json
--- request eval
["POST /2fa/2/pin/$::pin/resend/voice\n{\"placeholders\":{\"" . ('k' x 60000) . '":1}}',
 "POST /2fa/2/pin/$::pin/resend/voice\n{\"trackDelivery\":" . ('9' x 60000) . '}',
 "POST /2fa/2/pin/$::pin/resend/voice\n{\"trackDelivery\":1e999999}",
 "POST /2fa/2/pin/$::pin/resend/voice\n{\"trackDelivery\":" . (' ' x 60000) . 'x}']
--- error_code eval: [400, 400, 400, 400]
--- response_body eval
[::refusal($::pin, 'BAD_REQUEST', 'placeholders must be an object of strings'),
 ::bad_json(),
 ::bad_json(),
 ::bad_json()]
--- no_access_log
MOCK



=== TEST 31: invalid UTF-8 in the body (raw bytes): canonical 400, nothing forwarded
--- more_headers
Content-Type: application/json
--- request eval
[map { "POST /2fa/2/pin/$::pin/resend/voice\n{\"placeholders\":{\"name\":\"$_\"}}" }
 "\xff\xfe",           # never valid in UTF-8
 "\xc0\xaf",           # overlong "/"
 "\xe0\x80\xaf",       # overlong, 3 bytes
 "\xed\xa0\x80",       # an encoded surrogate
 "\xf4\x90\x80\x80",   # beyond U+10FFFF
 "Zo\xc3",             # cut in the middle of a character
 "\x80abc"]            # a continuation byte first
--- error_code eval: [(400) x 7]
--- response_body eval: [(::bad_json()) x 7]
--- no_access_log
MOCK



=== TEST 32: invalid UTF-16 escapes and NUL in the body: canonical 400, nothing forwarded
--- more_headers
Content-Type: application/json
--- request eval
[map { "POST /2fa/2/pin/$::pin/resend/voice\n$_" }
 '{"placeholders":{"name":"\ud800"}}',
 '{"placeholders":{"name":"\udc00\ud800"}}',
 '{"placeholders":{"name":"a\u0000b"}}',
 '{"place\u0000holders":{}}',
 "{\"placeholders\":{\"name\":\"a\x00b\"}}"]
--- error_code eval: [(400) x 5]
--- response_body eval: [(::bad_json()) x 5]
--- no_access_log
MOCK



=== TEST 33: a body announced but never sent: nginx gives up after client_body_timeout, nothing forwarded
--- raw_request eval
::raw(undef, ['Content-Type: application/json', 'Content-Length: 100'],
      '{"placeholders":')
--- ignore_response
--- access_log eval
[qr{"POST /2fa/2/pin/\w+/resend/voice HTTP/1\.1" 408 0 }]
--- no_access_log
MOCK



=== TEST 34: headers that never end: nginx gives up after client_header_timeout, nothing forwarded
--- raw_request eval
"POST /2fa/2/pin/$::pin/resend/voice HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1\r\n"
--- ignore_response
--- no_access_log
MOCK
--- error_log
client timed out (110: Connection timed out) while reading client request headers



=== TEST 35: a chunked body that stops mid-chunk: nginx gives up, nothing forwarded
--- raw_request eval
::raw(undef, ['Content-Type: application/json', 'Transfer-Encoding: chunked'],
      "40\r\n{\"placeholders\":")
--- ignore_response
--- access_log eval
[qr{"POST /2fa/2/pin/\w+/resend/voice HTTP/1\.1" 408 0 }]
--- no_access_log
MOCK



=== TEST 36: Expect: 100-continue with a body over the limit: canonical 413 at once, the body never read
--- raw_request eval
::raw(undef, ['Content-Type: application/json', 'Content-Length: 10000000',
              'Expect: 100-continue'])
--- error_code: 413
--- response_body eval: ::refusal($::pin, 'REQUEST_TOO_LARGE', 'Request too large')
--- raw_response_headers_unlike: 100 Continue
--- no_access_log
MOCK



=== TEST 37: URL override headers never reach the upstream: it gets the checked path and nothing else
--- more_headers
X-Original-URL: /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/sms
X-Rewrite-URL: /2fa/2/applications
--- request eval
"POST /2fa/2/pin/$::pin/resend/voice"
--- error_code: 200
--- response_body eval: $::canonical_ok
--- access_log eval: ::mock_line('-')
--- no_access_log eval: [qr/^MOCK.*(?:sms|applications)/]
