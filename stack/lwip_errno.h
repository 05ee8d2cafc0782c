/* lwIP's err_t as the errno the kernel gives in the same case, negated:
 * the one table the UDP and TCP socket layers answer from. */
#ifndef FS_LWIP_ERRNO_H
#define FS_LWIP_ERRNO_H

#include <errno.h>
#include <stdint.h>

#include <lwip/err.h>

static inline int
fs_lwip_errno(err_t e)
{
	static const int16_t errnos[] = {
		[-ERR_OK] = 0,
		[-ERR_MEM] = ENOBUFS,	   /* no pbuf or segment: the kernel's on send */
		[-ERR_BUF] = ENOBUFS,
		[-ERR_TIMEOUT] = ETIMEDOUT,
		[-ERR_RTE] = ENETUNREACH,  /* no route: not on our subnet */
		[-ERR_INPROGRESS] = EINPROGRESS,
		[-ERR_VAL] = EINVAL,
		[-ERR_WOULDBLOCK] = EWOULDBLOCK,
		[-ERR_USE] = EADDRINUSE,
		[-ERR_ALREADY] = EALREADY,
		[-ERR_ISCONN] = EISCONN,
		[-ERR_CONN] = ENOTCONN,
		[-ERR_IF] = ENETDOWN,
		[-ERR_ABRT] = ECONNABORTED,
		[-ERR_RST] = ECONNRESET,
		[-ERR_CLSD] = ENOTCONN,
		[-ERR_ARG] = EINVAL,
	};

	return e <= 0 && -e < (int)(sizeof(errnos) / sizeof(errnos[0])) ? -errnos[-e] : -EINVAL;
}

#endif
