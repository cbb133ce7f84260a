# Self-test of the bundled Test::Nginx runner (t/lib): every block must
# pass, with plain nginx only.  Run: prove -I t/lib -r t/runner

use Test::Nginx::Socket;

repeat_each(2);

# 3 tests per block, plus or minus what each block's title notes
plan tests => repeat_each() * (3 * blocks() + 10);

$ENV{TEST_NGINX_RUNNER_GREETING} = 'hi there';

no_shuffle();
run_tests();

__DATA__

=== TEST 1: plain GET, exact body, header present and absent (+2)
--- config
    location = /t {
        add_header X-Foo bar;
        return 200 "hello\n";
    }
--- request
GET /t
--- response_body
hello
--- response_headers
X-Foo: bar
!X-Missing
--- no_error_log
[error]



=== TEST 2: error_code, response_body_like, error_log substring (+0)
--- config
    location = /t {
        return 403;
    }
--- request
GET /t
--- error_code: 403
--- response_body_like: 403 Forbidden
--- error_log
http finalize request: 403



=== TEST 3: $TEST_NGINX_* expansion in config, inline sections (+2)
--- main_config
    worker_rlimit_nofile 1024;
--- http_config
    map $uri $greeting { default "$TEST_NGINX_RUNNER_GREETING"; }
--- config
    location = /t {
        return 200 "$greeting on $TEST_NGINX_SERVER_PORT";
    }
--- request
GET /t
--- response_body chomp
hi there on $ServerPort
--- response_headers_like
Content-Type: text/plain.*
--- no_error_log
[error]
[alert]



=== TEST 4: POST body gets Content-Length, trimmed like upstream (+2)
--- config
    location = /t {
        proxy_pass http://127.0.0.1:1985/echo;
    }
--- request
POST /t
hello world
--- tcp_listen: 1985
--- tcp_query eval
"POST /echo HTTP/1.0\r
Host: 127.0.0.1:1985\r
Connection: close\r
Content-Length: 11\r
\r
hello world"
--- tcp_reply eval
"HTTP/1.0 200 OK\r\nX-Up: yes\r\n\r\nfrom upstream"
--- response_body chomp
from upstream
--- response_headers
X-Up: yes
--- no_error_log
[error]



=== TEST 5: tcp_query checks what the mock server received (+1)
--- config
    location = /t {
        proxy_pass http://127.0.0.1:1985;
        proxy_http_version 1.0;
        proxy_set_header Host up;
        proxy_set_header Connection close;
    }
--- request
GET /t?a=1
--- tcp_listen: 1985
--- tcp_query eval
"GET /t?a=1 HTTP/1.0\r\nHost: up\r\nConnection: close\r\n\r\n"
--- tcp_reply eval
["HTTP/1.0 201 Created\r\n", "Content-Length: 2\r\n\r\nok"]
--- error_code: 201
--- response_body chomp
ok
--- no_error_log
[error]



=== TEST 6: request array: one check per request, error log per request (+3)
--- config
    location = /a { return 200 "a\n"; }
    location = /b { return 404; }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 404]
--- response_body_like eval
["^a\n\$", "404 Not Found"]
--- error_log eval
qr/http finalize request: \d+, "\/[ab]\?"/



=== TEST 7: pipelined requests on one keep-alive connection (+3)
--- config
    location = /a { return 200 "conn $connection_requests\n"; }
--- pipelined_requests eval
["GET /a", "GET /a"]
--- response_body eval
["conn 1\n", "conn 2\n"]
--- no_error_log
[error]



=== TEST 8: repeated request headers, chunked response, user_files (+0)
--- config
    location = /s {
        ssi on;
        default_type text/html;
        root $TEST_NGINX_SERVER_ROOT/html;
    }
--- user_files
>>> s
<!--# echo var="http_x_a" --> <!--# echo var="http_x_b" -->
--- more_headers
X-A: 1
# comment lines are skipped
X-B: 2
X-B: 3
--- request
GET /s
--- response_body
1 2
--- response_headers
Transfer-Encoding: chunked



=== TEST 9: raw_request split in packets, grep_error_log (+0)
--- config
    location = /t { return 200 "raw\n"; }
--- raw_request eval
["GET /t HTTP/1.1\r\nHost: loc", "alhost\r\nConnection: close\r\n\r\n"]
--- response_body
raw
--- grep_error_log eval
qr/http finalize request: \d+/
--- grep_error_log_out
http finalize request: 0



=== TEST 10: must_die with an exit code; the config error goes to stderr (-1)
--- config
    location = /t {
        return 200 200 200;
    }
--- must_die: 1
--- no_error_log
[alert]



=== TEST 11: timeout + abort: a hanging upstream is not a failure (-2)
--- config
    location = /t {
        proxy_pass http://127.0.0.1:1985;
        proxy_read_timeout 5s;
    }
--- request
GET /t
--- tcp_listen: 1985
--- tcp_reply eval
""
--- tcp_no_close
--- timeout: 300ms
--- abort
--- ignore_response
--- error_log
http upstream request



=== TEST 12: skip_eval skips the given number of tests (+0)
--- config
    location = /t { return 200; }
--- request
GET /t
--- skip_eval: 3: 1
--- response_body
never compared
--- error_log
never checked
--- no_error_log
[error]



=== TEST 13: response_body eval with the default root location (+0)
--- config
--- request
GET /index.html
--- response_body eval
'<html><head><title>It works!</title></head><body>It works!</body></html>'
--- no_error_log eval
[qr/\[(?:error|crit|alert|emerg)\]/]
