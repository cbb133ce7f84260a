package Test::Nginx::Socket;

# A small, bundled stand-in for OpenResty's Test::Nginx::Socket: builds
# the HTTP request(s) of a block, talks to nginx over a raw socket and
# checks the response and the error log.  Semantics (section names,
# test counts and test names) follow openresty/test-nginx so the same
# t/*.t files pass under either implementation.

use v5.10.1;
use strict;
use warnings;

use Test::Base -base;

use POSIX qw(EAGAIN);
use Time::HiRes qw(sleep);
use IO::Select ();
use IO::Socket::INET ();
use List::Util qw(min);
use Digest::MD5 ();
use Digest::SHA ();
use HTTP::Response ();
use Test::LongString ();

use Test::Nginx::Util;

our $VERSION = '0.01';

our @EXPORT = qw(
    env_to_nginx is_str plan run_tests run_test repeat_each
    config_preamble worker_connections master_process_enabled
    no_long_string workers master_on master_off log_level no_shuffle
    no_root_location use_hup server_name server_addr server_root
    html_dir server_port server_port_for_client timeout
    check_accum_error_log add_block_preprocessor bail_out
    add_cleanup_handler add_response_body_check
);

# Like upstream, no variables are exported to the test file: a .t that
# names $ServerPort, $ServRoot, ... must qualify them
# ($Test::Nginx::Util::ServerPort), or use them in a --- init section,
# which is evaluated in package Test::Nginx::Util.

our @ResponseBodyChecks;
our $TotalConnectingTimeouts = 0;

$RunTestHelper = \&run_test_helper;
$CheckErrorLog = \&check_error_log;

sub set_http_config_filter ($) { $FilterHttpConfig = shift }
sub add_response_body_check ($) { push @ResponseBodyChecks, shift }
sub run_test ($) { Test::Nginx::Util::run_test(shift) }


# ---- building requests -----------------------------------------------

# "--- more_headers": one "Name: value" per line, '#' lines ignored
sub parse_more_headers ($) {
    my $in = shift;
    my ($out, $is_chunked) = ('', undef);

    for my $line (split /\n+/, $in) {
        next if $line =~ /^\s*#/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val //= '';
        $is_chunked = 1
            if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }

    return ($out, $is_chunked);
}

# Turn "METHOD [URI [VERSION]]\nBODY" (possibly split over several
# packets) into a full HTTP request, keeping the packet boundaries of
# the body.
sub build_request_from_packets ($$$$$) {
    my ($name, $more_headers, $is_chunked, $conn, $packets) = @_;

    my $text = join '', @$packets;

    $text =~ /\A(\s*(\S+) *(?:(\S+) *)?(?:(\S+) *)?\s*?(?:\n|\z))/
        or bail_out("$name - Request line is not valid. Should be "
                    . "'meth [url [version]]' but got \"$text\".");
    my ($line_len, $meth, $url, $ver) = (length $1, $2, $3 // '/',
                                         $4 // 'HTTP/1.1');
    my $content = substr $text, $line_len;

    my $len_header = '';
    if (!$is_chunked && $content ne ''
        && $more_headers !~ /(?:^|\n)Content-Length:/)
    {
        $content =~ s/^\s+|\s+$//g;
        $len_header = 'Content-Length: ' . length($content) . "\r\n";
    }

    $more_headers =~ s/(?<!\r)\n/\r\n/g;

    my $head = "$meth $url $ver\r\n";
    $head .= "Host: $ServerName\r\n" if $more_headers !~ /(?:^|\n)Host:/msi;
    $head .= "Connection: $conn\r\n"
        if $more_headers !~ /(?:^|\n)Connection/msi;
    $head .= "$more_headers$len_header\r\n";

    # re-split: the first packet carries the head, the others keep
    # their original sizes
    my @out;
    my $rest = $content;
    my $first_body = length($packets->[0]) - $line_len;
    $first_body = 0 if $first_body < 0;
    push @out, $head . substr($rest, 0, $first_body, '');
    for my $i (1 .. $#$packets) {
        my $n = $i == $#$packets ? length $rest : length $packets->[$i];
        push @out, substr($rest, 0, $n, '');
    }
    $out[-1] .= $rest;

    return \@out;
}

sub _headers_for ($$$) {
    my ($more_headers, $i, $what) = @_;

    if (ref $more_headers eq 'ARRAY') {
        my $hdr = $more_headers->[$i];
        defined $hdr
            or bail_out("--- more_headers lacks data for the $what");
        return parse_more_headers($hdr);
    }

    return parse_more_headers($more_headers);
}

# Returns a list of requests; each request is a list of packets
# ({ value => ..., delay_before => ... }).
sub get_req_from_block ($) {
    my $block = shift;
    my $name = $block->name;

    if (defined(my $raw = $block->raw_request)) {
        return [[ map { { value => $_ } } ref $raw eq 'ARRAY' ? @$raw
                                                               : ($raw) ]];
    }

    my $request;
    if (defined $block->request_eval) {
        Test::More::diag("$name - request_eval DEPRECATED. Use request "
                         . "eval instead.");
        $request = eval $block->request_eval;
        warn $@ if $@;

    } else {
        $request = $block->request;
        if (defined $request && !ref $request) {
            1 while $request =~ s/^\s*\#[^\n]+\s+|^\s+//gs;
        }
    }

    my $more_headers = $block->more_headers // '';

    if (my $reqs = $block->pipelined_requests) {
        ref $reqs eq 'ARRAY'
            or bail_out("$name - invalid entries in --- pipelined_requests");
        my $all = '';
        for my $i (0 .. $#$reqs) {
            my ($hdr, $chunked) = _headers_for($more_headers, $i,
                                               "$i pipelined request");
            my $conn = $i == $#$reqs ? 'close' : 'keep-alive';
            $all .= build_request_from_packets($name, $hdr, $chunked, $conn,
                                               [$reqs->[$i]])->[0];
        }
        return [[{ value => $all }]];
    }

    defined $request or bail_out("$name - request empty");

    if (!ref $request) {
        my ($hdr, $chunked) = _headers_for($more_headers, 0, 'request');
        my $r = build_request_from_packets($name, $hdr, $chunked, 'close',
                                           [$request]);
        return [[{ value => $r->[0] }]];
    }

    ref $request eq 'ARRAY'
        or bail_out("$name - invalid ---request : MUST be string or array "
                    . "of requests");

    my @list;
    for my $i (0 .. $#$request) {
        my $one = $request->[$i];
        my ($hdr, $chunked) = _headers_for($more_headers, $i,
                                           "${i}th request");

        if (!ref $one) {
            my $r = build_request_from_packets($name, $hdr, $chunked,
                                               'close', [$one]);
            push @list, [{ value => $r->[0] }];
            next;
        }

        ref $one eq 'ARRAY'
            or bail_out("$name - Invalid syntax. $one should be a string "
                        . "or an array of packets.");

        my @values = map {
            ref $_ eq 'HASH' ? $_->{value}
            : !ref $_ ? $_
            : bail_out("$name - Invalid syntax. $_ should be a string or "
                       . "hash with value.")
        } @$one;

        my $r = build_request_from_packets($name, $hdr, $chunked, 'close',
                                           \@values);
        my @packets;
        for my $j (0 .. $#$r) {
            my %p = ref $one->[$j] eq 'HASH' ? %{ $one->[$j] } : ();
            $p{value} = $r->[$j];
            push @packets, \%p;
        }
        push @list, \@packets;
    }

    return \@list;
}


# ---- the client ------------------------------------------------------

sub _connect ($$) {
    my ($name, $timeout) = @_;

    my $total = $TotalConnectingTimeouts ? 20 : 50;

    for my $tries (1 .. $total + 1) {
        my $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr,
                                         PeerPort => $ServerPortForClient,
                                         Proto => 'tcp',
                                         Timeout => $timeout);
        return $sock if $sock;

        last if $tries > $total;

        if (defined $Test::Nginx::Util::ChildPid
            && waitpid($Test::Nginx::Util::ChildPid, POSIX::WNOHANG()) == -1)
        {
            Test::More->builder->no_ending(1);
            Test::More::fail("$name - Can't connect to "
                             . "$ServerAddr:$ServerPortForClient: $! "
                             . "(aborted)\n");
            return undef;
        }

        my $wait = (sleep_time() + sleep_time() * $tries) * $tries / 2;
        $wait = 1 if $wait > 1;
        warn "$name - Can't connect to $ServerAddr:$ServerPortForClient: "
             . "$!\n\tRetry connecting after $wait sec\n" if $wait >= 0.6;
        sleep $wait;
    }

    my $msg = "$name - Can't connect to $ServerAddr:$ServerPortForClient: "
              . "$! (aborted)\n";
    if (++$TotalConnectingTimeouts < 3) {
        Test::More->builder->no_ending(1);
        Test::More::fail($msg);
    } else {
        bail_out($msg);
    }

    return undef;
}

# Send the packets, read until the server closes (or the timeout
# between two I/O events expires).  Returns (raw response, is HEAD).
sub send_request ($$$$) {
    my ($req, $middle_delay, $timeout, $block) = @_;

    my $name = $block->name;
    my @bits = @$req;
    my $head_req = (join '', map { $_->{value} } @bits) =~ /^\s*HEAD\s+/;

    my $sock = _connect($name, $timeout) or return (undef, $head_req);
    $sock->blocking(0);

    my $resp = '';
    my $buf = (shift @bits)->{value};
    my $off = 0;
    my $reading = 1;
    my $writing = 1;

    # As upstream: each round reads what has arrived, then writes; a
    # failed write ends the exchange (what was read so far is the
    # response), and so does the server closing the connection.
    while ($reading || $writing) {
        my $r = IO::Select->new($reading ? $sock : ());
        my $w = IO::Select->new($writing ? $sock : ());
        my ($can_r, $can_w) = IO::Select->select($r, $w, undef, $timeout);

        if (!$can_r && !$can_w) {
            close $sock;
            if (!defined $block->abort) {
                Test::More->builder->no_ending(1);
                Test::More::fail("ERROR: client socket timed out - $name\n");
            } else {
                sleep 0.005;
            }
            return ($resp, $head_req);
        }

        if (@$can_r) {
            while (1) {
                my $n = sysread $sock, my $chunk, 4096;
                if (!defined $n) {
                    last if $! == EAGAIN;
                    warn "WARNING: $name - HTTP response read failure: $!";
                    ($reading, $writing) = (0, 0);
                    last;
                }
                if ($n == 0) {
                    ($reading, $writing) = (0, 0);
                    last;
                }
                $resp .= $chunk;
            }
        }

        if (@$can_w && $writing) {
            while (1) {
                if ($off < length $buf) {
                    my $n = syswrite $sock, $buf, length($buf) - $off, $off;
                    if (!defined $n) {
                        last if $! == EAGAIN;
                        warn "write failed: $!\n";
                        $resp ||= "write failed: $!";
                        ($reading, $writing) = (0, 0);
                        last;
                    }
                    $off += $n;
                    next;
                }

                my $next = shift @bits;
                if (!defined $next) {
                    $writing = 0;
                    if (defined(my $how = $block->shutdown)) {
                        $how = 1 if $how =~ /^$/;
                        shutdown $sock, $how;
                    }
                    last;
                }

                ($buf, $off) = ($next->{value}, 0);
                my $delay = $next->{delay_before} // $middle_delay;
                sleep $delay if $delay;
            }
        }
    }

    close $sock;
    return ($resp, $head_req);
}

# Returns (HTTP::Response, raw header text, bytes after this response)
sub parse_response ($$$) {
    my ($name, $raw, $head_req) = @_;

    my $raw_headers = $raw =~ /(.*?\r\n)\r\n/s ? $1 : '';
    my $res = HTTP::Response->parse($raw);
    my $left;

    my $code = $res->code;
    if ($code && $code !~ /^\d+$/) {
        undef $code;
        $res->code(undef);
    }

    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $enc = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');

    if (defined $enc && $enc eq 'chunked') {
        my $body = $res->content // '';
        my $decoded = '';

        while (1) {
            if ($body =~ /\G0[ \t]*\r\n\r\n/gc) {
                $left = $1 if $body =~ /\G(.+)/gcs;
                last;
            }

            if ($body =~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc) {
                my $size = hex $1;
                my $pos = pos $body;
                if (length($body) - $pos < $size) {
                    Test::More->builder->no_ending(1);
                    Test::More::fail("$name - invalid chunked data received "
                        . "(not enought octets for the data section)");
                    return;
                }
                $decoded .= substr $body, $pos, $size;
                pos($body) = $pos + $size;

                if ($body !~ /\G\r\n/gc) {
                    Test::More->builder->no_ending(1);
                    Test::More::fail("$name - invalid chunked data received "
                                     . "(expected CRLF).");
                    return;
                }
                next;
            }

            Test::More->builder->no_ending(1);
            if ($body =~ /\G(.+)/gcs) {
                Test::More::fail("$name - invalid chunked body received: $1");
            } else {
                Test::More::fail("$name - no last chunk found - $body");
            }
            return;
        }

        $res->content($decoded);

    } elsif (defined $len && $len =~ /^\d+$/) {
        my $body = $res->content;
        if (length $body < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got ", length $body, "\n" unless $head_req;
        } elsif (length $body > $len) {
            $left = substr $body, $len;
            $res->content(substr $body, 0, $len);
        }
    }

    return ($res, $raw_headers, $left);
}


# ---- checks ----------------------------------------------------------

sub get_indexed_value ($$$$) {
    my ($name, $value, $req_idx, $need_array) = @_;

    if ($need_array) {
        return $value->[$req_idx] if ref $value eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected results "
                 . "should be arrays as well.");
    }

    return ref $value eq 'ARRAY' ? $value->[0] : $value;
}

sub _code ($) {
    my $res = shift;
    return ($res && $res->code) || '';
}

sub check_error_code ($$$$$) {
    my ($block, $res, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->error_code_like) {
        my $val = get_indexed_value($name, $block->error_code_like,
                                    $req_idx, $need_array);
        Test::More::like(_code($res), qr/$val/sm, "$name - status code ok");

    } elsif (defined $block->error_code) {
        Test::More::is(_code($res),
                       get_indexed_value($name, $block->error_code, $req_idx,
                                         $need_array),
                       "$name - status code ok");

    } else {
        Test::More::is(_code($res), 200, "$name - status code ok");
    }
}

sub check_raw_response_headers ($$$$$) {
    my ($block, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->raw_response_headers_like) {
        my $pat = get_indexed_value($name, $block->raw_response_headers_like,
                                    $req_idx, $need_array);
        Test::More::like($raw_headers, qr/$pat/s,
                         "$name - raw resp headers like");
    }

    if (defined $block->raw_response_headers_unlike) {
        my $pat = get_indexed_value($name,
                                    $block->raw_response_headers_unlike,
                                    $req_idx, $need_array);
        Test::More::unlike($raw_headers, qr/$pat/s,
                           "$name - raw resp headers unlike");
    }
}

sub check_response_headers ($$$$$$) {
    my ($block, $res, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->response_headers) {
        my $headers = parse_headers(get_indexed_value($name,
                                    $block->response_headers, $req_idx,
                                    $need_array));
        while (my ($key, $val) = each %$headers) {
            if (!defined $val) {
                Test::More::unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                    "$name - header $key not present in the raw headers");
                next;
            }

            $val =~ s/\$ServerPort\b/$ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;

            my $actual = $res ? $res->header($key) : undef;
            Test::More::is($actual // '', $val, "$name - header $key ok");
        }

    } elsif (defined $block->response_headers_like) {
        my $headers = parse_headers(get_indexed_value($name,
                                    $block->response_headers_like, $req_idx,
                                    $need_array));
        while (my ($key, $val) = each %$headers) {
            my $actual = $res ? $res->header($key) : undef;
            Test::More::like($actual // '', qr/^$val$/,
                             "$name - header $key like ok");
        }
    }
}

my %BodyFilters = (
    md5_hex  => \&Digest::MD5::md5_hex,
    sha1_hex => \&Digest::SHA::sha1_hex,
    uc       => sub { uc shift },
    lc       => sub { lc shift },
    ucfirst  => sub { ucfirst shift },
    lcfirst  => sub { lcfirst shift },
    length   => sub { length shift },
);

sub transform_response_body ($$$) {
    my ($block, $res, $req_idx) = @_;

    return unless defined $res && defined $res->content;

    my $filters = $block->response_body_filters;
    return unless defined $filters;

    my $name = $block->name;

    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//g;
        $filters = [split /\s+/, $filters];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }

    if (ref $filters->[0] eq 'ARRAY') {
        $filters = $filters->[$req_idx]
            or bail_out("$name - the ---response_body_filters "
                        . "two-dimensional array unmatch the specified "
                        . "request($req_idx)");
    }

    my $body = $res->content;
    for my $f (@$filters) {
        my $code = ref $f eq 'CODE' ? $f : $BodyFilters{$f}
            or bail_out("$name - unknown filter, \"$f\", specified in the "
                        . "--- response_body_filters section");
        $body = $code->($body);
    }
    $res->content($body);
}

sub check_response_body ($$$$$$) {
    my ($block, $res, $dry_run, $req_idx, $repeated_req_idx, $need_array)
        = @_;
    my $name = $block->name;

    my $content = $res ? $res->content : undef;
    if (defined $content) {
        $content =~ s/^TE: deflate,gzip;q=0\.3\r\n//gm;
        $content =~ s/^Connection: TE, close\r\n//gm;
    }

    if (defined $block->response_body || defined $block->response_body_eval) {
        my $expected;
        if ($block->response_body_eval) {
            Test::More::diag("$name - response_body_eval is DEPRECATED. Use "
                             . "response_body eval instead.");
            $expected = eval get_indexed_value($name,
                                               $block->response_body_eval,
                                               $req_idx, $need_array);
            warn $@ if $@;
        } else {
            $expected = get_indexed_value($name, $block->response_body,
                                          $req_idx, $need_array);
        }

        if ($block->charset) {
            require Encode;
            Encode::from_to($expected, 'UTF-8', $block->charset);
        }

        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        }

        my $desc = "(repeated req $repeated_req_idx, req $req_idx)";
        if (ref $expected) {
            Test::More::like($content, $expected,
                             "$name - response_body - like $desc");
        } elsif ($NoLongString) {
            Test::More::is($content, $expected,
                "$name - response_body - response is expected $desc");
        } else {
            Test::LongString::is_string($content, $expected,
                "$name - response_body - response is expected $desc");
        }

    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my $like = defined $block->response_body_like;
        my $type = $like ? 'like' : 'unlike';
        my $pat = get_indexed_value($name,
                                    $like ? $block->response_body_like
                                          : $block->response_body_unlike,
                                    $req_idx, $need_array);
        $pat =~ s/\$ServerPort\b/$ServerPort/g;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;

        my $summary = trim($content) // '';
        my $desc = "$name - response_body_$type - response is expected "
                   . "($summary)";
        if ($like) {
            Test::More::like($content, qr/$pat/s, $desc);
        } else {
            Test::More::unlike($content, qr/$pat/s, $desc);
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $res ? $res->content : undef, $req_idx,
                 $repeated_req_idx, $dry_run);
    }
}

sub fmt_str ($) {
    my $str = shift;
    chomp $str;
    $str =~ s/"/\\"/g;
    $str =~ s/\r/\\r/g;
    $str =~ s/\n/\\n/g;
    return $str;
}

sub _patterns ($) {
    my $pats = shift;

    if (!ref $pats) {
        chomp $pats;
        return [split /\n+/, $pats];
    }

    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats];
}

sub _line_matches ($$) {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ /$pat/ : $line =~ /\Q$pat\E/;
}

sub _value_contains ($$) {
    my ($val, $pat) = @_;
    return scalar grep { !ref $_ || ref $_ eq 'Regexp' ? /\Q$pat\E/ : 0 }
                  ref $val eq 'ARRAY' ? @$val : ($val);
}

# --- error_log / no_error_log / grep_error_log, also used for the
# access log; every pattern yields exactly one test unless it matches
# several lines in a no_* section
sub _check_log ($$$$$) {
    my ($name, $lines, $file, $req, $block) = @_;

    my $key = $file eq 'error.log' ? 'error_log' : 'access_log';

    if (defined(my $v = $block->$key)) {
        my $pats = _patterns($v);
        for my $line (@$lines) {
            for my $pat (@$pats) {
                next unless defined $pat && _line_matches($line, $pat);
                Test::More::pass("$name - pattern \"$pat\" matches a line "
                                 . "in $file (req $req)");
                undef $pat;
            }
        }
        for my $pat (grep { defined } @$pats) {
            Test::More::fail("$name - pattern \"$pat\" should match a line "
                             . "in $file (req $req)");
        }
    }

    my $no_key = "no_$key";
    if (defined(my $v = $block->$no_key)) {
        my $pats = _patterns($v);
        my %found;
        for my $i (0 .. $#$lines) {
            my $line = $lines->[$i];
            for my $pat (@$pats) {
                next unless defined $pat && _line_matches($line, $pat);
                Test::More->builder->no_ending(1) if $found{$pat}++;
                my @more = @$lines[$i + 1 .. min($i + 10, @$lines - 1) - 1];
                Test::More::fail("$name - pattern \"" . fmt_str($pat)
                    . "\" should not match any line in $file but matches "
                    . "line \"" . fmt_str($line) . "\" (req $req)\n"
                    . join '', @more);
            }
        }
        for my $pat (@$pats) {
            next if !defined $pat || $found{$pat};
            Test::More::pass("$name - pattern \"" . fmt_str($pat)
                             . "\" does not match a line in $file "
                             . "(req $req)");
        }
    }
}

sub check_error_log ($$$$$) {
    my ($block, $res, $dry_run, $req, $need_array) = @_;
    my $name = $block->name;
    my $lines;

    my $grep_pat = $block->grep_error_log;
    if (defined $grep_pat) {
        $grep_pat = $grep_pat->[$req] if ref $grep_pat eq 'ARRAY';
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but "
                 . "--- grep_error_log_out is defined");
    }

    if (defined $grep_pat) {
        my $expected = $block->grep_error_log_out;
        defined $expected
            or bail_out("$name - No --- grep_error_log_out defined but "
                        . "--- grep_error_log is defined");
        $expected = $expected->[$req] if ref $expected eq 'ARRAY';

        $lines ||= error_log_data();
        my $out = '';
        for my $line (@$lines) {
            if (ref $grep_pat ? $line =~ /$grep_pat/ : $line =~ /\Q$grep_pat\E/)
            {
                $out .= "$&\n" if $& !~ /\n/;
            }
        }

        my $desc = "$name - grep_error_log_out (req $req)";
        if (ref $expected eq 'Regexp') {
            Test::More::like($out, $expected, $desc);
        } elsif ($NoLongString) {
            Test::More::is($out, $expected, $desc);
        } else {
            Test::LongString::is_string($out, $expected, $desc);
        }
    }

    my %warn_on = map { $_ => 1 } qw(alert crit emerg);
    for my $v ($block->error_log, $block->no_error_log) {
        next unless defined $v;
        for my $level (keys %warn_on) {
            delete $warn_on{$level} if _value_contains($v, "[$level");
        }
    }

    if (defined $block->error_log || defined $block->no_error_log) {
        $lines ||= error_log_data();
        _check_log($name, $lines, 'error.log', $req, $block);
    }

    $lines ||= error_log_data();

    for my $line (@$lines) {
        for my $level (sort keys %warn_on) {
            warn "WARNING: $name - " . fmt_str($line) . "\n"
                if $line =~ /\[$level\]/;
        }
    }

    for my $line (@$lines) {
        if ($line =~ /\bAssertion .*?failed\b/) {
            Test::More->builder->no_ending(1);
            chomp(my $l = $line);
            Test::More::fail("$name - $l\n");
        }
    }
}

sub check_access_log ($$$) {
    my ($block, $dry_run, $req) = @_;

    return unless defined $block->access_log
                  || defined $block->no_access_log;

    _check_log($block->name, access_log_data() || [], 'access.log', $req,
               $block);
}


# ---- one block, one repetition ---------------------------------------

sub run_test_helper ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;

    my $name = $block->name;
    my $reqs = get_req_from_block($block);
    bail_out("$name - request empty") unless @$reqs;

    my $timeout = parse_time($block->timeout) // timeout();

    my ($res, $n, $need_array);
    my $req_idx = 0;

    for my $one_req (@$reqs) {
        my ($raw, $head_req) = send_request($one_req,
                                            $block->raw_request_middle_delay,
                                            $timeout, $block);

        if ($block->pipelined_requests) {
            $n = @{ $block->pipelined_requests };
            $need_array = 1;
        } else {
            $need_array = @$reqs > 1;
        }

        while (1) {
            $raw //= '';
            my ($raw_headers, $left);

            if (!defined $block->ignore_response) {
                if (defined $block->http09) {
                    $res = HTTP::Response->new(200, 'OK', [], $raw);
                    $raw_headers = '';
                } else {
                    ($res, $raw_headers, $left) = parse_response($name, $raw,
                                                                 $head_req);
                }
            }

            if (!$n) {
                if (defined $left && length $left) {
                    $left =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}',
                                                            ord $1)/eg;
                    warn "WARNING: $name - unexpected extra bytes after last "
                         . "chunk in response: \"$left\"\n";
                }
            } else {
                $raw = $left;
                $n--;
            }

            if (!defined $block->ignore_response) {
                $raw_headers //= '';
                check_error_code($block, $res, 0, $req_idx, $need_array);
                check_raw_response_headers($block, $raw_headers, 0, $req_idx,
                                           $need_array);
                check_response_headers($block, $res, $raw_headers, 0,
                                       $req_idx, $need_array);
                transform_response_body($block, $res, $req_idx);
                check_response_body($block, $res, 0, $req_idx,
                                    $repeated_req_idx, $need_array);
            }

            if ($n || $req_idx < @$reqs - 1) {
                sleep $block->wait if $block->wait;
                check_error_log($block, $res, 0, $repeated_req_idx,
                                $need_array);
                check_access_log($block, 0, $repeated_req_idx)
                    unless defined $block->ignore_response;
            }

            $req_idx++;
            last unless $n;
        }
    }

    sleep $block->wait if $block->wait;

    check_error_log($block, $res, 0, $repeated_req_idx, $need_array);
    check_access_log($block, 0, $repeated_req_idx)
        unless defined $block->ignore_response;
}

1;
