/* SPDX-License-Identifier: MIT */
/*
 * frame.c - the transport's frame codec (layout in transport.h).
 *
 * Pure functions over (buf, len): no allocation, no reads past len. The
 * header check is separate so that the connection code can refuse an
 * oversized length before it grows its buffer for the payload.
 */
#include "duet/transport.h"
#include "duet/wire.h"

size_t xport_frame_size(uint32_t payload_len)
{
	return (size_t)XPORT_FRAME_HEADER_BYTES + payload_len + XPORT_FRAME_TRAILER_BYTES;
}

long xport_frame_encode(uint8_t type, const void *payload, uint32_t len, void *buf, size_t cap)
{
	if (len > XPORT_MAX_FRAME_BYTES || cap < xport_frame_size(len))
		return DUET_ETOOBIG;
	struct wire_writer w;
	wire_writer_init(&w, buf, cap);
	wire_put_u32(&w, XPORT_FRAME_MAGIC);
	wire_put_u8(&w, XPORT_FRAME_VERSION);
	wire_put_u8(&w, type);
	wire_put_u16(&w, 0);
	wire_put_u32(&w, len);
	wire_put_bytes(&w, payload, len);
	wire_put_u32(&w, duet_crc32c(0, buf, w.used));
	return w.err ? w.err : (long)w.used;
}

int xport_frame_header_decode(const void *buf, size_t len, uint32_t max_payload,
			      uint32_t *payload_len)
{
	struct wire_reader r;
	wire_reader_init(&r, buf, len);
	uint32_t magic = wire_get_u32(&r);
	uint8_t version = wire_get_u8(&r);
	(void)wire_get_u8(&r); /* type: any value is valid */
	uint16_t flags = wire_get_u16(&r);
	uint32_t n = wire_get_u32(&r);
	if (r.err)
		return DUET_ETRUNCATED;
	if (magic != XPORT_FRAME_MAGIC || flags != 0)
		return DUET_ECORRUPT;
	if (version != XPORT_FRAME_VERSION)
		return DUET_EVERSION;
	if (max_payload > XPORT_MAX_FRAME_BYTES)
		max_payload = XPORT_MAX_FRAME_BYTES;
	if (n > max_payload)
		return DUET_ETOOBIG;
	*payload_len = n;
	return 0;
}

int xport_frame_decode(const void *buf, size_t len, uint32_t max_payload, struct xport_frame *f,
		       size_t *used)
{
	uint32_t n;
	int rc = xport_frame_header_decode(buf, len, max_payload, &n);
	if (rc)
		return rc;
	size_t total = xport_frame_size(n);
	if (len < total)
		return DUET_ETRUNCATED;
	const uint8_t *p = buf;
	size_t body = total - XPORT_FRAME_TRAILER_BYTES;
	struct wire_reader r;
	wire_reader_init(&r, p + body, XPORT_FRAME_TRAILER_BYTES);
	if (wire_get_u32(&r) != duet_crc32c(0, p, body))
		return DUET_ECORRUPT;
	f->type = p[5];
	f->flags = 0;
	f->len = n;
	f->payload = p + XPORT_FRAME_HEADER_BYTES;
	if (used)
		*used = total;
	return 0;
}
