# What of the upstream's answer reaches the client: the canonical body with
# the gateway's own headers (Content-Type, Content-Length, Date, Server,
# X-RateLimit-*), the upstream's Retry-After on a 429 or 503, and nothing
# else the upstream sent.  An answer whose status the gateway does not use
# (a 1xx, a 3xx, a 206, a 2xx other than 200, 201 and 202) is the canonical
# 502 at once, never a wait for more.

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib $FindBin::Bin;
use TfaResend;

$ENV{TEST_NGINX_TFA_MOCK_PORT} ||= free_port();
$ENV{TEST_NGINX_TFA_TCP_PORT} ||= free_port($ENV{TEST_NGINX_TFA_MOCK_PORT});

our $pin = '9C817C6F8AF3D48F9FE553282AFA2B67';

sub pin_n { sprintf '%032d', shift }

# the mock API: what it answers depends on the pinId's last digit
our $http_config = <<'_EOC_';
    tfa_resend_limit_zone zone=pins:1m rate=5/10m;

    map $uri $mock_case {
        ~/pin/0+1/  headers;
        ~/pin/0+2/  r429;
        ~/pin/0+3/  r302;
        ~/pin/0+4/  r206;
        ~/pin/0+5/  r203;
        ~/pin/0+6/  r503;
        default     ok;
    }

    server {
        listen 127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
        default_type application/json;
        error_log logs/mock-error.log warn;
        access_log off;

        location /2fa/ {
            rewrite ^/2fa/2/pin/(?<p>\w+)/ /$mock_case/$p last;
        }

        location ~ ^/headers/(?<pin>\w+)$ {
            add_header Location /elsewhere always;
            add_header Set-Cookie "upstream-session=1" always;
            add_header WWW-Authenticate 'Basic realm="infobip"' always;
            add_header Refresh "0; url=/x" always;
            add_header Content-Disposition "attachment; filename=x.json" always;
            add_header Content-Range "bytes 0-9/10" always;
            add_header Cache-Control "no-store" always;
            add_header X-Upstream-Leak "1" always;
            add_header X-RateLimit-Limit 1000 always;
            add_header Retry-After 7 always;
            return 200 '{"pinId":"$pin","to":"41793026727","callStatus":"PENDING_ACCEPTED"}';
        }

        location ~ ^/r429/ {
            add_header Retry-After 120 always;
            add_header X-Upstream-Leak "1" always;
            return 429 '{"requestError":{"serviceException":{"messageId":"TOO_MANY_REQUESTS","text":"Too many requests"}}}';
        }

        location ~ ^/r503/ {
            add_header Retry-After 30 always;
            return 503 '{"requestError":{"serviceException":{"messageId":"GENERAL_ERROR","text":"Unavailable"}}}';
        }

        location ~ ^/r302/ {
            return 302 http://evil.example/phish;
        }

        location ~ ^/r206/(?<pin>\w+)$ {
            return 206 '{"pinId":"$pin","to":"41793026727","callStatus":"PENDING_ACCEPTED"}';
        }

        location ~ ^/r203/(?<pin>\w+)$ {
            return 203 '{"pinId":"$pin","to":"41793026727","callStatus":"PENDING_ACCEPTED"}';
        }
    }
_EOC_

our $config = <<'_EOC_';
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_limit zone=pins;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
_EOC_

sub unusable {
    my $p = shift;
    return '{"pinId":"' . $p . '","to":null,"callStatus":"ERROR","requestError":'
           . '{"serviceException":{"messageId":"UPSTREAM_ERROR","text":'
           . '"upstream answer has a status the gateway does not use"}}}';
}

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', $http_config);
    }

    if (!defined $block->config) {
        $block->set_value('config', $config);
    }
});

no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: none of the upstream's own headers reaches the client beside the canonical body
--- request eval
"POST /2fa/2/pin/" . ::pin_n(1) . "/resend/voice"
--- error_code: 200
--- response_headers
Content-Type: application/json
X-RateLimit-Limit: 5
X-RateLimit-Remaining: 4
!Location
!Set-Cookie
!WWW-Authenticate
!Refresh
!Content-Disposition
!Content-Range
!Cache-Control
!X-Upstream-Leak
!Retry-After
--- response_body eval
'{"pinId":"' . ::pin_n(1) . '","to":"41793026727","callStatus":"PROCESSING"}'



=== TEST 2: the upstream's Retry-After on a 429 and a 503 reaches the client, nothing else of its own
--- request eval
["POST /2fa/2/pin/" . ::pin_n(2) . "/resend/voice",
 "POST /2fa/2/pin/" . ::pin_n(6) . "/resend/voice"]
--- error_code eval
[429, 503]
--- response_headers eval
["Retry-After: 120\nX-RateLimit-Limit: 5\n!X-Upstream-Leak",
 "Retry-After: 30\nX-RateLimit-Limit: 5"]



=== TEST 3: a 3xx from the upstream is an unusable answer: canonical 502, no Location
--- request eval
"POST /2fa/2/pin/" . ::pin_n(3) . "/resend/voice"
--- error_code: 502
--- response_headers
!Location
X-RateLimit-Limit: 5
--- response_body eval
::unusable(::pin_n(3))
--- error_log
upstream answer has a status the gateway does not use (status 302



=== TEST 4: a 206 and a 203 from the upstream are unusable answers: canonical 502
--- request eval
["POST /2fa/2/pin/" . ::pin_n(4) . "/resend/voice",
 "POST /2fa/2/pin/" . ::pin_n(5) . "/resend/voice"]
--- error_code eval
[502, 502]
--- response_body eval
[::unusable(::pin_n(4)), ::unusable(::pin_n(5))]



=== TEST 5: a "100 Continue" before the real answer, the connection left open: the canonical 502 at once, not a wait for the read timeout
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_TCP_PORT;
    }
--- request
POST /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice
--- tcp_listen eval: $ENV{TEST_NGINX_TFA_TCP_PORT}
--- tcp_no_close
--- tcp_reply eval
my $b = '{"pinId":"9C817C6F8AF3D48F9FE553282AFA2B67","to":"41793026727","callStatus":"PENDING_ACCEPTED"}';
"HTTP/1.1 100 Continue\r\n\r\n"
. "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
. length($b) . "\r\n\r\n$b"
--- timeout: 5
--- error_code: 502
--- response_body eval
::unusable($::pin)
