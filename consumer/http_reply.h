/*
 * Answers of the consumer's HTTP listener, one way for all of them: every
 * answer carries the same security headers (a Content-Security-Policy with
 * no inline code, no sniffing, no framing, no referrer, no caching of
 * personal data); errors are {"error": "..."}.
 */
#ifndef PBXBUS_HTTP_REPLY_H
#define PBXBUS_HTTP_REPLY_H

#include <microhttpd.h>

/* Queues r (with the security headers) and lets go of it; MHD_NO when r is NULL. */
enum MHD_Result http_queue(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r);
/* text is copied. */
enum MHD_Result http_reply(struct MHD_Connection *conn, unsigned status, const char *type, const char *text);
enum MHD_Result http_reply_error(struct MHD_Connection *conn, unsigned status, const char *msg);
/* JSON the caller allocated with malloc (NULL: out of memory, a 500); taken over. */
enum MHD_Result http_reply_owned_json(struct MHD_Connection *conn, unsigned status, char *text);

#endif
