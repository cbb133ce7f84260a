#!/usr/bin/env perl
# Fixed-count client of the benchmark kit (wrk is time-based): sends COUNT
# resends over voice, one after another on one keep-alive connection, each
# for a fresh random 32-hex pinId, and checks that each answer is a 200.
# Used where the figure must be repeatable: instructions per request under
# callgrind.
#
#   bench/client.pl PORT COUNT [SEED]
#
# Prints "client: COUNT requests, all 200" or dies naming the first failure.
use strict;
use warnings;
use IO::Socket::INET;

my ($port, $count, $seed) = @ARGV;
die "usage: $0 PORT COUNT [SEED]\n" unless $port && $count;
srand(defined $seed ? $seed : time ^ $$);

my $sock;

sub connect_gw {
    $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 60)
        or die "client: cannot connect to 127.0.0.1:$port: $!\n";
    $sock->autoflush(1);
}

# reads exactly $n bytes, or a line when $n is undef
sub get {
    my ($n) = @_;
    if (!defined $n) {
        my $line = <$sock>;
        die "client: connection closed\n" unless defined $line;
        return $line;
    }
    my $buf = '';
    while (length $buf < $n) {
        my $got = read($sock, $buf, $n - length $buf, length $buf);
        die "client: connection closed\n" unless $got;
    }
    return $buf;
}

connect_gw();

for my $i (1 .. $count) {
    my $pin = sprintf '%08X%08X%08X%08X', map { int rand 4294967296 } 1 .. 4;
    print $sock "POST /2fa/2/pin/$pin/resend/voice HTTP/1.1\r\n"
              . "Host: 127.0.0.1:$port\r\nContent-Length: 0\r\n\r\n";

    my $status_line = get();
    my ($status) = $status_line =~ m{^HTTP/1\.[01] (\d{3})}
        or die "client: bad status line: $status_line";

    my ($len, $chunked, $close);
    while ((my $h = get()) ne "\r\n") {
        $len = $1 if $h =~ /^Content-Length:\s*(\d+)/i;
        $chunked = 1 if $h =~ /^Transfer-Encoding:\s*chunked/i;
        $close = 1 if $h =~ /^Connection:\s*close/i;
    }

    my $body = '';
    if ($chunked) {
        while (1) {
            my ($size) = get() =~ /^([0-9a-fA-F]+)/;
            $size = hex $size;
            $body .= get($size) if $size;
            get(2);
            last unless $size;
        }
    } elsif (defined $len) {
        $body = get($len);
    }

    die "client: request $i got $status: $body\n" unless $status == 200;
    die "client: request $i: no pinId in $body\n" unless $body =~ /\Q$pin\E/;

    connect_gw() if $close;
}

print "client: $count requests, all 200\n";
