/* fuzz_wire.c -- bytes from a peer as migrd takes them (common/wire.c,
 * coordinator/server.c).
 *
 * The input is one envelope frame: unpacked with protobuf-c as wire_recv
 * does (and refused as it refuses: no envelope, another protocol version,
 * no body).  A Request's args are then read as migrd's api_handle reads
 * them (JSON, "" meaning {}, an object or a usage error), and a
 * TaskResult's output as task_succeeded reads it (JSON, "" meaning {}, an
 * object or a failed attempt).  A message that unpacks, and has no fields
 * this build does not know, must pack again to bytes that unpack to the same
 * message.  (Unknown fields are left out of that check: protobuf-c keeps them
 * raw and re-encodes their tags, and takes a field-number-0 tag only when it
 * is written in more bytes than needed -- 81 00 -- so such a message packs to
 * bytes it then refuses.  migrd never packs what it received.) */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/wire.h"
#include "tests/fuzz/fuzz_util.h"

/* JSON text from a peer, as migrd reads it: an object, else refused. */
static void read_json_object(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text && *text ? text : "{}", 0, &jerr);
    if (v && json_is_object(v)) {
        /* What migrd does with an object: look keys up, store it compact. */
        const char *key;
        json_t *item;
        json_object_foreach(v, key, item)
            (void)json_string_value(item);
        char *again = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        if (!again)
            abort();
        json_t *back = json_loads(again, 0, &jerr);
        if (!back || !json_equal(back, v)) {
            fprintf(stderr, "wire: a JSON object does not read back as itself: %s\n", again);
            abort();
        }
        json_decref(back);
        free(again);
    }
    json_decref(v);
}

/* The body's message, whichever it is. */
static const ProtobufCMessage *body_of(const Migr__Envelope *env)
{
    switch (env->body_case) {
    case MIGR__ENVELOPE__BODY_HELLO: return &env->hello->base;
    case MIGR__ENVELOPE__BODY_HEARTBEAT: return &env->heartbeat->base;
    case MIGR__ENVELOPE__BODY_RESULT: return &env->result->base;
    case MIGR__ENVELOPE__BODY_BYE: return &env->bye->base;
    case MIGR__ENVELOPE__BODY_ASSIGN: return &env->assign->base;
    case MIGR__ENVELOPE__BODY_REFUSAL: return &env->refusal->base;
    case MIGR__ENVELOPE__BODY_REQUEST: return &env->request->base;
    case MIGR__ENVELOPE__BODY_REPLY: return &env->reply->base;
    default: return NULL;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > WIRE_MAX_BYTES)
        return 0;
    Migr__Envelope *env = migr__envelope__unpack(NULL, size, data);
    if (!env)
        return 0;
    if (env->version != WIRE_PROTOCOL_VERSION || env->body_case == MIGR__ENVELOPE__BODY__NOT_SET) {
        migr__envelope__free_unpacked(env, NULL);
        return 0;
    }
    switch (env->body_case) {
    case MIGR__ENVELOPE__BODY_REQUEST:
        (void)strlen(env->request->verb);
        read_json_object(env->request->args);
        break;
    case MIGR__ENVELOPE__BODY_RESULT:
        if (env->result->ok)
            read_json_object(env->result->output);
        else
            (void)strlen(env->result->error);
        break;
    case MIGR__ENVELOPE__BODY_HELLO:
        (void)strlen(env->hello->worker_id);
        (void)strlen(env->hello->host);
        for (size_t i = 0; i < env->hello->n_running; i++)
            (void)env->hello->running[i];
        break;
    case MIGR__ENVELOPE__BODY_HEARTBEAT:
        for (size_t i = 0; i < env->heartbeat->n_running; i++)
            (void)env->heartbeat->running[i];
        break;
    default:
        break;
    }

    /* Pack and unpack again: the same message. */
    const ProtobufCMessage *body = body_of(env);
    if (env->base.n_unknown_fields || !body || body->n_unknown_fields) {
        migr__envelope__free_unpacked(env, NULL);
        return 0;
    }
    size_t len = migr__envelope__get_packed_size(env);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf || migr__envelope__pack(env, buf) != len)
        abort();
    Migr__Envelope *again = migr__envelope__unpack(NULL, len, buf);
    if (!again || again->body_case != env->body_case || again->version != env->version ||
        migr__envelope__get_packed_size(again) != len) {
        fprintf(stderr, "wire: a message does not survive pack and unpack\n");
        abort();
    }
    uint8_t *buf2 = malloc(len ? len : 1);
    if (!buf2 || migr__envelope__pack(again, buf2) != len || memcmp(buf, buf2, len) != 0) {
        fprintf(stderr, "wire: packing a message twice gives other bytes\n");
        abort();
    }
    free(buf2);
    migr__envelope__free_unpacked(again, NULL);
    free(buf);
    migr__envelope__free_unpacked(env, NULL);
    return 0;
}
