#include "client_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int forwarded_for_last(const char *header, char out[CLIENT_ADDRESS_MAX])
{
	unsigned char bin[sizeof(struct in6_addr)];
	char one[CLIENT_ADDRESS_MAX];

	if (header == NULL)
		return -1;
	const char *last = strrchr(header, ',');
	last = last ? last + 1 : header;
	while (*last == ' ' || *last == '\t')
		last++;
	size_t n = strcspn(last, " \t");
	if (n == 0 || n >= sizeof(one) || last[n + strspn(last + n, " \t")] != '\0')
		return -1;
	memcpy(one, last, n);
	one[n] = '\0';
	if (inet_pton(AF_INET, one, bin) != 1 && inet_pton(AF_INET6, one, bin) != 1)
		return -1;
	memcpy(out, one, n + 1);
	return 0;
}

void client_address_text(const struct sockaddr *sa, char out[CLIENT_ADDRESS_MAX])
{
	snprintf(out, CLIENT_ADDRESS_MAX, "?");
	if (sa != NULL && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, CLIENT_ADDRESS_MAX);
	else if (sa != NULL && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
		          CLIENT_ADDRESS_MAX);
}

static void peer_address(struct MHD_Connection *conn, char out[CLIENT_ADDRESS_MAX])
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	client_address_text(ci ? ci->client_addr : NULL, out);
}

void client_address(struct MHD_Connection *conn, const char *trusted_proxy, char out[CLIENT_ADDRESS_MAX])
{
	peer_address(conn, out);
	if (trusted_proxy == NULL || strcmp(out, trusted_proxy) != 0)
		return;
	/* the proxy's own requests (no header) stay the proxy's */
	forwarded_for_last(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Forwarded-For"), out);
}
