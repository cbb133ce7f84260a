# Upstream faults: whatever the upstream does wrong, the client
# of an intercepted resend gets the canonical 502/504 body whole (never a
# part of the upstream's answer), the worker survives, the next request is
# served, and with tfa_resend_limit_refund on the admission is taken back
# when no call was placed (no status, or not 2xx), never when the upstream
# said 2xx, whatever became of its body.
#
# Each block sends two requests for one pinId in a zone of rate=2/1m: the
# first to a location whose upstream misbehaves, the second to a location
# (same zone, same pinId) whose upstream answers well.  Without a refund
# the second leaves X-RateLimit-Remaining: 0; with it, 1.
#
# Upstreams (ports 1995-1998 are this file's own):
#   1995  the embedded TCP server of a block (tcp_listen/tcp_reply)
#   1996  nothing listens: connections are refused
#   1997  a scripted mock, below, for what tcp_reply cannot do: resets
#         (RST, SO_LINGER 0) and a reply dripped one byte at a time
#   and a well-behaved mock (nginx server block) on a random port
#
# nginx runs with a master process so that a worker that crashes shows up
# as "exited on signal" in the error log.

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib $FindBin::Bin;
use TfaResend;
use IO::Socket::INET;
use POSIX ();
use Socket qw(IPPROTO_TCP TCP_NODELAY SOL_SOCKET SO_LINGER);
use Time::HiRes ();

our $ok_pin = '00000000000000000000000000000000';

# Debian's nginx has --with-debug; one built without it (as by default, or
# util/matrix.sh) writes no debug line, such as nginx's own "free keepalive
# peer: saving connection" that tells a kept upstream connection
our $nginx_debug = `$Test::Nginx::Util::NginxBinary -V 2>&1` =~ /--with-debug/;
our @kept = $nginx_debug ? ('free keepalive peer: saving connection') : ();

sub pin { sprintf '%032X', shift }

sub canonical_error {
    my ($pin, $message_id, $text) = @_;

    return qq({"pinId":"$pin","to":null,"callStatus":"ERROR",)
           . qq("requestError":{"serviceException":{"messageId":)
           . qq("$message_id","text":"$text"}}});
}

sub json_reply {
    my ($pin, %opt) = @_;

    my $body = $opt{body}
               // qq({"pinId":"$pin","to":"41793026727",)
                  . qq("callStatus":"PENDING_ACCEPTED"});
    my $len = $opt{length} // length $body;

    return "HTTP/1.1 " . ($opt{status} // '200 OK') . "\r\n"
           . "Content-Type: application/json\r\n"
           . ($opt{headers} // '')
           . "Content-Length: $len\r\n"
           . ($opt{keepalive} ? '' : "Connection: close\r\n")
           . "\r\n$body";
}


# ---- the scripted mock on 1997 --------------------------------------
#
# One connection at a time.  It reads the whole request (head and
# Content-Length body), then acts on the pinId's last two hex digits:
#
#   A1  reset mid-headers: part of the status line and headers, then RST
#   A2  reset mid-body: headers promising 91 bytes, 30 of them, then RST
#   A3  drip: a good answer, one byte every 10 ms (TCP_NODELAY)
#   A4  drip, then stall: headers and a few body bytes one at a time,
#       then nothing for 4 s (longer than proxy_read_timeout)
#   A5  reset before anything: RST as soon as the request is read
#   A6  keep-alive, two responses at once: a good one and a second one
#       ("to":"41790000000"); later requests on that connection get a
#       good answer, after whatever nginx left unread
#   else  a good answer at once

our $MockPid;

sub mock_serve {
    my $c = shift;

    setsockopt($c, IPPROTO_TCP, TCP_NODELAY, 1);

    while (mock_serve_one($c)) { }

    close $c;
}

# one request; true when the connection stays open for another
sub mock_serve_one {
    my $c = shift;

    my $req = '';
    while ($req !~ /\r\n\r\n/) {
        my $n = sysread $c, $req, 4096, length $req;
        return 0 unless $n;
    }

    my ($head, $body) = split /\r\n\r\n/, $req, 2;
    my $len = $head =~ /^Content-Length:\s*(\d+)/mi ? $1 : 0;
    while (length $body < $len) {
        my $n = sysread $c, $body, $len - length $body, length $body;
        last unless $n;
    }

    my ($pin) = $head =~ m{^POST /2fa/\d/pin/([0-9A-Fa-f]{32})/}
        or return 0;
    my $act = uc substr $pin, -2;
    my $reply = json_reply($pin);

    my $reset = sub {
        setsockopt($c, SOL_SOCKET, SO_LINGER, pack('II', 1, 0));
        close $c;
    };

    my $drip = sub {
        for my $byte (split //, shift) {
            syswrite $c, $byte or return;
            Time::HiRes::sleep(0.01);
        }
    };

    if ($act eq 'A1') {
        syswrite $c, "HTTP/1.1 200 OK\r\nContent-Type: applica";
        Time::HiRes::sleep(0.2);
        $reset->();

    } elsif ($act eq 'A2') {
        my $r = json_reply($pin);
        syswrite $c, substr($r, 0, index($r, "\r\n\r\n") + 4 + 30);
        Time::HiRes::sleep(0.2);
        $reset->();

    } elsif ($act eq 'A3') {
        $drip->($reply);

    } elsif ($act eq 'A4') {
        $drip->(substr $reply, 0, index($reply, "\r\n\r\n") + 4 + 10);
        sleep 4;

    } elsif ($act eq 'A5') {
        $reset->();

    } elsif ($act eq 'A6') {
        my $second = qq({"pinId":"$pin","to":"41790000000",)
                     . qq("callStatus":"ANSWERED_MACHINE"});
        syswrite $c, json_reply($pin, keepalive => 1)
                     . json_reply($pin, keepalive => 1, body => $second);
        return 1;

    } elsif ($act eq 'A7') {
        syswrite $c, json_reply($pin, keepalive => 1);
        return 1;

    } else {
        syswrite $c, $reply;
    }

    return 0;
}

sub start_mock {
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                    LocalPort => 1997, Listen => 16,
                                    ReuseAddr => 1)
        or die "faults.t: cannot listen on 127.0.0.1:1997: $!\n";

    my $pid = fork;
    die "fork: $!" unless defined $pid;

    if ($pid) {
        close $srv;
        return $pid;
    }

    # the child: never runs Test::More's or Test::Nginx's END blocks
    $SIG{TERM} = $SIG{QUIT} = sub { POSIX::_exit(0) };
    $SIG{PIPE} = 'IGNORE';

    while (1) {
        my $c = $srv->accept or next;
        mock_serve($c);
    }
}

$MockPid = start_mock();

add_cleanup_handler(sub {
    if ($MockPid) {
        kill 'TERM', $MockPid;
        waitpid $MockPid, 0;
        undef $MockPid;
    }
});


# ---- configuration --------------------------------------------------

our $http_config = <<'_EOC_';
    tfa_resend_limit_zone zone=faults:1m rate=2/1m;

    # the well-behaved upstream: takes the pinId from the request path
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        default_type application/json;
        access_log off;

        location / {
            return 200 '{"to":"41793026727","callStatus":"PENDING_ACCEPTED"}';
        }
    }
_EOC_

# /2fa/2/: the faulty upstream at $port; /2fa/1/: the good one
sub gateway {
    my ($port, $extra) = @_;
    $extra //= '';

    return <<_EOC_;
    tfa_resend on;
    tfa_resend_credentials basic "alice:s3cret";
    tfa_resend_limit zone=faults;
    tfa_resend_limit_refund on;
    proxy_connect_timeout 1s;
    proxy_read_timeout 1s;
    proxy_send_timeout 1s;

    location /2fa/2/ {
        $extra
        proxy_pass http://127.0.0.1:$port;
    }

    location /2fa/1/ {
        proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
    }
_EOC_
}

# the fault, then the same pinId through the good upstream
sub requests {
    my $pin = shift;
    return ["POST /2fa/2/pin/$pin/resend/voice",
            "POST /2fa/1/pin/$pin/resend/voice"];
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', $http_config)
        unless defined $block->http_config;

    # no crash, no alert, whatever the fault
    add_no_error_log($block, 'exited on signal', '[alert]', '[crit]');

    $block->set_value('timeout', 10) unless defined $block->timeout;
});

master_on();
workers(1);
no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a good answer: canonical 200, X-RateLimit-Remaining counts down (the control for the refund checks below)
--- config eval: ::gateway(1997)
--- request eval: ::requests(::pin(0x10))
--- error_code eval: [200, 200]
--- response_headers eval
["Content-Type: application/json\nX-RateLimit-Limit: 2\nX-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 0"]
--- response_body eval
[::canonical_ok(::pin(0x10)), ::canonical_ok(::pin(0x10))]



=== TEST 2: refused: canonical 502, refunded
--- config eval: ::gateway(1996)
--- request eval: ::requests(::pin(0x20))
--- error_code eval: [502, 200]
--- response_headers eval
["Content-Type: application/json\nX-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 1"]
--- response_body eval
[::canonical_error(::pin(0x20), 'UPSTREAM_ERROR', 'upstream did not answer'),
 ::canonical_ok(::pin(0x20))]



=== TEST 3: accepts and never answers: canonical 504 after proxy_read_timeout, refunded
--- config eval: ::gateway(1995)
--- tcp_listen: 1995
--- tcp_no_close
--- tcp_reply:
--- request eval: ::requests(::pin(0x30))
--- error_code eval: [504, 200]
--- response_headers eval
["Content-Type: application/json\nX-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 1"]
--- response_body eval
[::canonical_error(::pin(0x30), 'UPSTREAM_TIMEOUT', 'upstream did not answer in time'),
 ::canonical_ok(::pin(0x30))]



=== TEST 4: reset before any answer: canonical 502, refunded
--- config eval: ::gateway(1997)
--- request eval: ::requests(::pin(0x4A5))
--- error_code eval: [502, 200]
--- response_headers eval
["Content-Type: application/json\nX-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 1"]
--- response_body eval
[::canonical_error(::pin(0x4A5), 'UPSTREAM_ERROR', 'upstream did not answer'),
 ::canonical_ok(::pin(0x4A5))]



=== TEST 5: reset mid-headers: canonical 502, nothing of the partial head, refunded
--- config eval: ::gateway(1997)
--- request eval: ::requests(::pin(0x5A1))
--- error_code eval: [502, 200]
--- response_headers eval
["Content-Type: application/json\nX-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 1"]
--- response_body eval
[::canonical_error(::pin(0x5A1), 'UPSTREAM_ERROR', 'upstream did not answer'),
 ::canonical_ok(::pin(0x5A1))]



=== TEST 6: reset mid-body: canonical 502, none of the 30 bytes, counted: the upstream's 200 placed the call
--- config eval: ::gateway(1997)
--- request eval: ::requests(::pin(0x6A2))
--- error_code eval: [502, 200]
--- response_headers eval
["Content-Type: application/json\nX-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 0"]
--- response_body eval
[::canonical_error(::pin(0x6A2), 'UPSTREAM_ERROR', 'upstream answer was cut short'),
 ::canonical_ok(::pin(0x6A2))]



=== TEST 7: Content-Length promises more than the truncated JSON: canonical 502, counted: the upstream's 200 placed the call
--- config eval: ::gateway(1995)
--- tcp_listen: 1995
--- tcp_reply eval
::json_reply(::pin(0x70), length => 500)
--- request eval: ::requests(::pin(0x70))
--- error_code eval: [502, 200]
--- response_headers eval
["Content-Type: application/json\nX-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 0"]
--- response_body eval
[::canonical_error(::pin(0x70), 'UPSTREAM_ERROR', 'upstream answer was cut short'),
 ::canonical_ok(::pin(0x70))]



=== TEST 8: truncated JSON that the Content-Length agrees with: not JSON, canonical 502, counted: the upstream's 200 placed the call
--- config eval: ::gateway(1995)
--- tcp_listen: 1995
--- tcp_reply eval
::json_reply(::pin(0x80), body => '{"pinId":"' . ::pin(0x80) . '","to":"4179302')
--- request eval: ::requests(::pin(0x80))
--- error_code eval: [502, 200]
--- response_headers eval
["Content-Type: application/json\nX-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 0"]
--- response_body eval
[::canonical_error(::pin(0x80), 'UPSTREAM_ERROR', 'upstream answer is not valid JSON'),
 ::canonical_ok(::pin(0x80))]



=== TEST 9: a good answer dripped one byte every 10 ms: reassembled, canonical 200, counted
--- config eval: ::gateway(1997)
--- request eval: ::requests(::pin(0x9A3))
--- error_code eval: [200, 200]
--- response_headers eval
["Content-Type: application/json\nX-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 0"]
--- response_body eval
[::canonical_ok(::pin(0x9A3)), ::canonical_ok(::pin(0x9A3))]
--- timeout: 20



=== TEST 10: dripped, then stalled past proxy_read_timeout mid-body: canonical 504, nothing partial, counted: the upstream's 200 placed the call
--- config eval: ::gateway(1997)
--- request eval: ::requests(::pin(0xAA4))
--- error_code eval: [504, 200]
--- response_headers eval
["Content-Type: application/json\nX-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 0"]
--- response_body eval
[::canonical_error(::pin(0xAA4), 'UPSTREAM_TIMEOUT', 'upstream did not answer in time'),
 ::canonical_ok(::pin(0xAA4))]
--- timeout: 20



=== TEST 11: 1 MB answer: canonical 502, none of it passed on, counted: the upstream's 200 placed the call
--- config eval: ::gateway(1995)
--- tcp_listen: 1995
--- tcp_reply eval
::json_reply(::pin(0xB0), body => '{"pinId":"' . ::pin(0xB0) . '","pad":"'
             . ('x' x (1024 * 1024)) . '","callStatus":"PENDING_ACCEPTED"}')
--- request eval: ::requests(::pin(0xB0))
--- error_code eval: [502, 200]
--- response_headers eval
["Content-Type: application/json\nX-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 0"]
--- response_body eval
[::canonical_error(::pin(0xB0), 'UPSTREAM_ERROR', 'upstream answer is larger than tfa_resend_max_response_size'),
 ::canonical_ok(::pin(0xB0))]



=== TEST 12: 1 MB chunked answer, no length announced: canonical 502, counted: the upstream's 200 placed the call
--- config eval: ::gateway(1995, 'proxy_http_version 1.1;')
--- tcp_listen: 1995
--- tcp_reply eval
my $chunk = sprintf("%x\r\n%s\r\n", 65536, 'y' x 65536);
["HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
 ($chunk) x 16, "0\r\n\r\n"]
--- request eval: ::requests(::pin(0xC0))
--- error_code eval: [502, 200]
--- response_headers eval
["Content-Type: application/json\nX-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 0"]
--- response_body eval
[::canonical_error(::pin(0xC0), 'UPSTREAM_ERROR', 'upstream answer is larger than tfa_resend_max_response_size'),
 ::canonical_ok(::pin(0xC0))]



=== TEST 13: gzip it was not asked for: canonical 502, no Content-Encoding, counted: the upstream's 200 placed the call
--- config eval: ::gateway(1995)
--- tcp_listen: 1995
--- tcp_reply eval
::json_reply(::pin(0xD0), headers => "Content-Encoding: gzip\r\n",
             body => "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xab\xae\x05\x00\x43\xbf\xa6\xa3\x02\x00\x00\x00")
--- request eval: ::requests(::pin(0xD0))
--- error_code eval: [502, 200]
--- response_headers eval
["Content-Type: application/json\n!Content-Encoding\nX-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 0"]
--- response_body eval
[::canonical_error(::pin(0xD0), 'UPSTREAM_ERROR', 'upstream answer is compressed'),
 ::canonical_ok(::pin(0xD0))]



=== TEST 14: invalid chunked framing: canonical 502, nothing of the first chunk, counted: the upstream's 200 placed the call
--- config eval: ::gateway(1995, 'proxy_http_version 1.1;')
--- tcp_listen: 1995
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
. "a\r\n{\"pinId\":\"\r\nZZ\r\nnot a chunk\r\n0\r\n\r\n"
--- request eval: ::requests(::pin(0xE0))
--- error_code eval: [502, 200]
--- response_headers eval
["Content-Type: application/json\nX-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 0"]
--- response_body eval
[::canonical_error(::pin(0xE0), 'UPSTREAM_ERROR', 'upstream answer was cut short'),
 ::canonical_ok(::pin(0xE0))]



=== TEST 15: chunked framing whose size overruns the body: canonical 502, counted: the upstream's 200 placed the call
--- config eval: ::gateway(1995, 'proxy_http_version 1.1;')
--- tcp_listen: 1995
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
. "ffff\r\n{\"pinId\":\"" . ::pin(0xF0) . "\",\"callStatus\":\"PENDING\"}"
--- request eval: ::requests(::pin(0xF0))
--- error_code eval: [502, 200]
--- response_headers eval
["Content-Type: application/json\nX-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 0"]
--- response_body eval
[::canonical_error(::pin(0xF0), 'UPSTREAM_ERROR', 'upstream answer was cut short'),
 ::canonical_ok(::pin(0xF0))]



=== TEST 16: two responses in one reply: the second never reaches the client
--- config eval: ::gateway(1995)
--- tcp_listen: 1995
--- tcp_reply eval
::json_reply(::pin(0x100), status => '500 Internal Server Error',
             body => '{"requestError":{"serviceException":{"messageId":"GENERAL_ERROR","text":"first"}}}')
. ::json_reply(::pin(0x100), body => '{"pinId":"' . ::pin(0x100) . '","to":"41790000000","callStatus":"PENDING_ACCEPTED"}')
--- request eval: ::requests(::pin(0x100))
--- error_code eval: [500, 200]
--- response_headers eval
["Content-Type: application/json\nX-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 1"]
--- response_body eval
['{"pinId":"' . ::pin(0x100) . '","to":null,"callStatus":"ERROR","requestError":{"serviceException":{"messageId":"GENERAL_ERROR","text":"first"}}}',
 ::canonical_ok(::pin(0x100))]
--- response_body_unlike: 41790000000



=== TEST 17: two responses, the first without a length: the whole rest is its body, not JSON: canonical 502, counted: the upstream's 200 placed the call
--- config eval: ::gateway(1995)
--- tcp_listen: 1995
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
. '{"pinId":"' . ::pin(0x110) . '","to":"41793026727","callStatus":"PENDING_ACCEPTED"}'
. ::json_reply(::pin(0x110))
--- request eval: ::requests(::pin(0x110))
--- error_code eval: [502, 200]
--- response_headers eval
["Content-Type: application/json\nX-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 0"]
--- response_body eval
[::canonical_error(::pin(0x110), 'UPSTREAM_ERROR', 'upstream answer is not valid JSON'),
 ::canonical_ok(::pin(0x110))]



=== TEST 18: keep-alive upstream sends two responses at once: the second never answers the next request
--- config
    tfa_resend on;
    tfa_resend_credentials basic "alice:s3cret";

    location /2fa/ {
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass http://tfa_faults_keepalive;
    }
--- http_config eval
"$::http_config
    upstream tfa_faults_keepalive {
        server 127.0.0.1:1997;
        keepalive 2;
    }"
--- request eval
my $p = ::pin(0x12A6);
["POST /2fa/2/pin/$p/resend/voice", "POST /2fa/2/pin/$p/resend/voice",
 "POST /2fa/2/pin/$p/resend/voice"]
--- error_code eval: [200, 200, 200]
--- response_body eval
[(::canonical_ok(::pin(0x12A6))) x 3]
--- error_log
upstream sent more data than specified in "Content-Length" header
--- no_error_log eval: [@::kept]



=== TEST 19: keep-alive upstream (control for TEST 18): well-framed answers reuse the connection
--- config
    tfa_resend on;
    tfa_resend_credentials basic "alice:s3cret";

    location /2fa/ {
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass http://tfa_faults_keepalive;
    }
--- http_config eval
"$::http_config
    upstream tfa_faults_keepalive {
        server 127.0.0.1:1997;
        keepalive 2;
    }"
--- request eval
my $p = ::pin(0x13A7);
["POST /2fa/2/pin/$p/resend/voice", "POST /2fa/2/pin/$p/resend/voice"]
--- error_code eval: [200, 200]
--- response_body eval
[(::canonical_ok(::pin(0x13A7))) x 2]
--- error_log eval: [@::kept]



=== TEST 20: broken chunked framing, no limiter: the canonical 502 all the same (nginx ends such a request without a flush)
--- http_config
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret";
        proxy_http_version 1.1;
        proxy_pass http://127.0.0.1:1995;
    }
--- tcp_listen: 1995
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
. "5\r\n{\"pin\r\n-1\r\n"
--- request eval
"POST /2fa/2/pin/" . ::pin(0x200) . "/resend/voice"
--- error_code: 502
--- response_headers eval
"Content-Type: application/json\nContent-Length: "
. length ::canonical_error(::pin(0x200), 'UPSTREAM_ERROR', 'upstream answer was cut short')
--- response_body eval
::canonical_error(::pin(0x200), 'UPSTREAM_ERROR', 'upstream answer was cut short')
--- error_log
upstream sent invalid chunked response



=== TEST 21: a read timeout after the headers, no limiter: canonical 504 UPSTREAM_TIMEOUT, nothing partial
--- http_config
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret";
        proxy_read_timeout 1s;
        proxy_pass http://127.0.0.1:1995;
    }
--- tcp_listen: 1995
--- tcp_no_close
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 90\r\nConnection: close\r\n\r\n"
. "{\"pinId\":\"" . ::pin(0x210)
--- request eval
"POST /2fa/2/pin/" . ::pin(0x210) . "/resend/voice"
--- error_code: 504
--- response_headers
Content-Type: application/json
--- response_body eval
::canonical_error(::pin(0x210), 'UPSTREAM_TIMEOUT', 'upstream did not answer in time')
--- error_log
upstream timed out (110: Connection timed out) while reading upstream
