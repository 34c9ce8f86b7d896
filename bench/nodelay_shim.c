/* Diagnostic only, for bench/daemon.sh: preloaded into `kyso serve`, it sets
 * TCP_NODELAY on every accepted connection, to show how much of the 1-page
 * latency is Nagle's algorithm meeting the client's delayed ACK (the daemon
 * writes the response headers and body in two writes). Kyso itself is not
 * changed; the row it produces is not a result of Kyso as shipped.
 *
 *   cc -shared -fPIC -O2 -o nodelay_shim.so nodelay_shim.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static int (*real_accept)(int, struct sockaddr *, socklen_t *);

static int nodelay(int s)
{
    if (s >= 0) {
        int one = 1;
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return s;
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    if (!real_accept4)
        real_accept4 = (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
    return nodelay(real_accept4(fd, addr, len, flags));
}

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    if (!real_accept)
        real_accept = (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
    return nodelay(real_accept(fd, addr, len));
}
