#include "md5hex.h"

#include <openssl/evp.h>

int md5_hex(const void *a, size_t alen, const void *b, size_t blen, char out[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 && EVP_DigestUpdate(ctx, a, alen) == 1 &&
	         EVP_DigestUpdate(ctx, b, blen) == 1 && EVP_DigestFinal_ex(ctx, digest, &dlen) == 1 && dlen == 16;

	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	for (unsigned i = 0; i < 16; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 15];
	}
	out[32] = '\0';
	return 0;
}
