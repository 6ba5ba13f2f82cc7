/*
 * Every hard limit of pbxbus in one place.  Input from the network, from
 * config files and from the PBX is bounded by these; going past one is an
 * error the caller logs, never a crash or unbounded growth.
 */
#ifndef PBXBUS_BOUNDS_H
#define PBXBUS_BOUNDS_H

/* AMI codec */
#define AMI_MAX_LINE    (64 * 1024)   /* one "Key: Value" line */
#define AMI_MAX_MESSAGE (1024 * 1024) /* one message, banner included */
#define AMI_MAX_FIELDS  4096          /* key/value pairs per message */
#define AMI_MAX_BANNER  256           /* "Asterisk Call Manager/11.0.0" */

/* MQTT topics and payloads we build */
#define TOPIC_MAX         256 /* whole topic we publish on */
#define TOPIC_SEGMENT_MAX 64  /* one sanitised segment (event name...) */
/* The JSON of the largest AMI message at its worst (every byte escaped as
 * \u00XX, 6x, plus the punctuation of every field): no event the codec
 * takes is too big for it.  The buffer grows only as far as an event needs. */
#define JSON_EVENT_MAX (AMI_MAX_MESSAGE * 6 + AMI_MAX_FIELDS * 16 + 4096)

/* Config */
#define CONFIG_LINE_MAX  4096
#define CONFIG_VALUE_MAX 1024
#define CONFIG_LIST_MAX  64 /* entries in a repeatable key */
#define SECRET_MAX       512

/* Bridge */
#define AMI_PENDING_ACTIONS   64    /* actions awaiting a response */
#define MQTT_PENDING_MIDS_MAX 65536 /* publishes the library may hold */

/* Consumer */
#define RECORD_MAX_BYTES  (64 * 1024) /* a call record payload; larger is dead-lettered */
#define DEAD_LETTER_KEEP  4096        /* bytes of a bad payload kept, with its SHA-256 and size */
#define DEAD_LETTER_RATE  10          /* dead letters stored per second, on average ... */
#define DEAD_LETTER_BURST 600         /* ... and at once; past these they are counted, not stored */
#define BATCH_MAX         1000        /* records committed in one transaction */
#define HTTP_BODY_MAX     (16 * 1024)

#endif
