/*
 * test_cursor.c - the one byte cursor (storage/base/cursor.h): bounds, the
 * sticky error, both byte orders, the read-only refusal, rewind and resize.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cursor.h"

#include <string.h>

static void test_read_cursor_sticky(void **state)
{
    (void)state;
    const uint8_t data[] = {0x12, 0x34, 0x56};
    gslb_cur_t c;
    gslb_cur_init_ro(&c, data, sizeof(data));
    assert_int_equal(gslb_cur_get_be16(&c), 0x1234);
    assert_int_equal(gslb_cur_get_be16(&c), 0); /* only one byte left */
    assert_int_equal(c.err, GSLB_ECORRUPT);
    assert_int_equal(gslb_cur_get_u8(&c), 0); /* sticky: even a fitting read fails */
    assert_int_equal(c.pos, 2);
    assert_int_equal(gslb_cur_left(&c), 0);
}

static void test_read_cursor_u32_and_skip(void **state)
{
    (void)state;
    const uint8_t data[] = {0xde, 0xad, 0xbe, 0xef, 1, 2};
    gslb_cur_t c;
    gslb_cur_init_ro(&c, data, sizeof(data));
    assert_int_equal(gslb_cur_get_be32(&c), 0xdeadbeefu);
    gslb_cur_skip(&c, 2);
    assert_int_equal(c.err, 0);
    gslb_cur_skip(&c, 1);
    assert_int_equal(c.err, GSLB_ECORRUPT);
}

static void test_write_cursor_sticky(void **state)
{
    (void)state;
    uint8_t buf[5];
    gslb_cur_t w;
    gslb_cur_init(&w, buf, sizeof(buf));
    gslb_cur_put_be32(&w, 0x01020304);
    assert_int_equal(w.err, 0);
    gslb_cur_put_be16(&w, 0xffff); /* does not fit */
    assert_int_equal(w.err, GSLB_ERANGE);
    gslb_cur_put_u8(&w, 9); /* would fit, but the error is sticky */
    assert_int_equal(w.pos, 4);
    assert_memory_equal(buf, "\x01\x02\x03\x04", 4);
    gslb_cur_rewind(&w, 2);
    assert_int_equal(w.err, 0);
    gslb_cur_put_be16(&w, 0xaabb);
    assert_int_equal(w.pos, 4);
    assert_int_equal(buf[2], 0xaa);
}

/* ---- byte orders ---------------------------------------------------------------- */

static const uint8_t BE_BYTES[] = {0x12, 0x34, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x02,
                                   0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xfe};
static const uint8_t LE_BYTES[] = {0x34, 0x12, 0xef, 0xcd, 0xab, 0x89, 0x08, 0x07,
                                   0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0xfe};

static void test_big_endian_put_and_get(void **state)
{
    (void)state;
    uint8_t buf[sizeof(BE_BYTES)];
    gslb_cur_t w;
    gslb_cur_init(&w, buf, sizeof(buf));
    gslb_cur_put_be16(&w, 0x1234);
    gslb_cur_put_be32(&w, 0x89abcdefu);
    gslb_cur_put_be64(&w, 0x0102030405060708ull);
    gslb_cur_put_u8(&w, 0xfe);
    assert_int_equal(w.err, 0);
    assert_int_equal(w.pos, sizeof(BE_BYTES));
    assert_memory_equal(buf, BE_BYTES, sizeof(BE_BYTES));

    gslb_cur_t r;
    gslb_cur_init_ro(&r, BE_BYTES, sizeof(BE_BYTES));
    assert_int_equal(gslb_cur_get_be16(&r), 0x1234);
    assert_int_equal(gslb_cur_get_be32(&r), 0x89abcdefu);
    assert_true(gslb_cur_get_be64(&r) == 0x0102030405060708ull);
    assert_int_equal(gslb_cur_get_u8(&r), 0xfe);
    assert_int_equal(r.err, 0);
    assert_int_equal(gslb_cur_left(&r), 0);
}

static void test_little_endian_put_and_get(void **state)
{
    (void)state;
    uint8_t buf[sizeof(LE_BYTES)];
    gslb_cur_t w;
    gslb_cur_init(&w, buf, sizeof(buf));
    gslb_cur_put_le16(&w, 0x1234);
    gslb_cur_put_le32(&w, 0x89abcdefu);
    gslb_cur_put_le64(&w, 0x0102030405060708ull);
    gslb_cur_put_u8(&w, 0xfe);
    assert_int_equal(w.err, 0);
    assert_memory_equal(buf, LE_BYTES, sizeof(LE_BYTES));

    gslb_cur_t r;
    gslb_cur_init_ro(&r, LE_BYTES, sizeof(LE_BYTES));
    assert_int_equal(gslb_cur_get_le16(&r), 0x1234);
    assert_int_equal(gslb_cur_get_le32(&r), 0x89abcdefu);
    assert_true(gslb_cur_get_le64(&r) == 0x0102030405060708ull);
    assert_int_equal(gslb_cur_get_u8(&r), 0xfe);
    assert_int_equal(gslb_cur_left(&r), 0);
}

static void test_raw_accessors(void **state)
{
    (void)state;
    uint8_t p[8];
    gslb_put_be16(p, 0x1234);
    assert_memory_equal(p, "\x12\x34", 2);
    gslb_put_be32(p, 0x01020304u);
    assert_memory_equal(p, "\x01\x02\x03\x04", 4);
    gslb_put_be64(p, 0x0102030405060708ull);
    assert_memory_equal(p, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    assert_true(gslb_get_be64(p) == 0x0102030405060708ull);
    assert_int_equal(gslb_get_be32(p + 4), 0x05060708u);
    assert_int_equal(gslb_get_be16(p + 6), 0x0708);
    assert_int_equal(gslb_get_le16(p + 6), 0x0807);
    assert_int_equal(gslb_get_le32(p), 0x04030201u);
    gslb_put_le64(p, 0x0102030405060708ull);
    assert_memory_equal(p, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
}

/* ---- bounds ---------------------------------------------------------------------- */

/* Every width fails the same way one byte short, and leaves the buffer alone. */
static void test_write_exactly_to_capacity(void **state)
{
    (void)state;
    uint8_t buf[9];
    memset(buf, 0xee, sizeof(buf));
    gslb_cur_t w;
    gslb_cur_init(&w, buf, 8);
    gslb_cur_put_be64(&w, 1);
    assert_int_equal(w.err, 0);
    assert_int_equal(gslb_cur_left(&w), 0);
    gslb_cur_put_bytes(&w, "", 0); /* nothing to write: fits */
    assert_int_equal(w.err, 0);
    gslb_cur_put_u8(&w, 7);
    assert_int_equal(w.err, GSLB_ERANGE);
    assert_int_equal(buf[8], 0xee);

    for (size_t width = 2; width <= 8; width *= 2) {
        gslb_cur_init(&w, buf, width - 1);
        if (width == 2)
            gslb_cur_put_be16(&w, 0xffff);
        else if (width == 4)
            gslb_cur_put_le32(&w, 0xffffffffu);
        else
            gslb_cur_put_be64(&w, ~0ull);
        assert_int_equal(w.err, GSLB_ERANGE);
        assert_int_equal(w.pos, 0);
        assert_null(gslb_cur_reserve(&w, 1));
    }
    assert_int_equal(buf[0], 0);
}

static void test_read_past_end_of_every_width(void **state)
{
    (void)state;
    const uint8_t data[7] = {1, 2, 3, 4, 5, 6, 7};
    gslb_cur_t r;
    gslb_cur_init_ro(&r, data, sizeof(data));
    assert_true(gslb_cur_get_le64(&r) == 0);
    assert_int_equal(r.err, GSLB_ECORRUPT);
    assert_int_equal(r.pos, 0);

    gslb_cur_init_ro(&r, data, 3);
    assert_int_equal(gslb_cur_get_be32(&r), 0);
    assert_int_equal(r.err, GSLB_ECORRUPT);

    gslb_cur_init_ro(&r, data, sizeof(data));
    assert_non_null(gslb_cur_take(&r, 7));
    assert_null(gslb_cur_take(&r, 1));
    uint8_t out[2] = {9, 9};
    gslb_cur_get_bytes(&r, out, 2);
    assert_int_equal(out[0], 9); /* untouched after the error */
}

static void test_get_bytes_and_take(void **state)
{
    (void)state;
    const uint8_t data[] = {'a', 'b', 'c', 'd', 'e'};
    gslb_cur_t r;
    gslb_cur_init_ro(&r, data, sizeof(data));
    char two[2];
    gslb_cur_get_bytes(&r, two, 2);
    assert_memory_equal(two, "ab", 2);
    const uint8_t *p = gslb_cur_take(&r, 3);
    assert_ptr_equal(p, data + 2);
    assert_int_equal(gslb_cur_left(&r), 0);
    assert_int_equal(r.err, 0);
}

/* ---- sticky error ---------------------------------------------------------------- */

static void test_first_error_wins(void **state)
{
    (void)state;
    uint8_t buf[4] = {0};
    gslb_cur_t c;
    gslb_cur_init(&c, buf, sizeof(buf));
    gslb_cur_put_u8(&c, 1);
    gslb_cur_fail(&c, GSLB_ECORRUPT);
    assert_int_equal(c.pos, 1);
    gslb_cur_put_be64(&c, 2); /* would overflow too: still ECORRUPT */
    gslb_cur_put_u8(&c, 3);   /* would fit: refused */
    assert_int_equal(c.err, GSLB_ECORRUPT);
    assert_int_equal(gslb_cur_get_u8(&c), 0);
    assert_int_equal(c.err, GSLB_ECORRUPT);
    assert_int_equal(c.pos, 1);
    assert_int_equal(buf[1], 0);
    assert_int_equal(gslb_cur_left(&c), 0);
}

/* A rollback: rewind clears the error and gives the full capacity back. */
static void test_rewind_and_resize(void **state)
{
    (void)state;
    uint8_t buf[8];
    gslb_cur_t w;
    gslb_cur_init(&w, buf, 4);
    gslb_cur_put_be32(&w, 0x01020304);
    gslb_cur_put_u8(&w, 5);
    assert_int_equal(w.err, GSLB_ERANGE);
    gslb_cur_resize(&w, 8); /* a grown capacity does not clear the error */
    gslb_cur_put_u8(&w, 5);
    assert_int_equal(w.err, GSLB_ERANGE);
    assert_int_equal(gslb_cur_left(&w), 0);
    gslb_cur_rewind(&w, 4);
    assert_int_equal(w.err, 0);
    assert_int_equal(gslb_cur_left(&w), 4);
    gslb_cur_put_be32(&w, 0x05060708);
    assert_int_equal(w.err, 0);
    assert_memory_equal(buf, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    gslb_cur_rewind(&w, 1); /* forward and back within the capacity */
    assert_int_equal(gslb_cur_get_u8(&w), 0x02);
}

static void test_reserve_hands_out_room(void **state)
{
    (void)state;
    uint8_t buf[6];
    gslb_cur_t w;
    gslb_cur_init(&w, buf, sizeof(buf));
    gslb_cur_put_u8(&w, 0xaa);
    uint8_t *p = gslb_cur_reserve(&w, 4);
    assert_ptr_equal(p, buf + 1);
    assert_int_equal(w.pos, 5);
    assert_null(gslb_cur_reserve(&w, 2));
    assert_int_equal(w.err, GSLB_ERANGE);
}

/* ---- read-only -------------------------------------------------------------------- */

static void test_read_only_refuses_writes(void **state)
{
    (void)state;
    uint8_t data[4] = {1, 2, 3, 4};
    gslb_cur_t r;
    gslb_cur_init_ro(&r, data, sizeof(data));
    assert_int_equal(gslb_cur_get_u8(&r), 1);
    gslb_cur_put_u8(&r, 0xff);
    assert_int_equal(r.err, GSLB_EINVAL);
    gslb_cur_rewind(&r, 0);
    gslb_cur_put_be16(&r, 0xffff);
    assert_int_equal(r.err, GSLB_EINVAL);
    gslb_cur_rewind(&r, 0);
    gslb_cur_put_bytes(&r, "xy", 2);
    assert_int_equal(r.err, GSLB_EINVAL);
    gslb_cur_rewind(&r, 0);
    assert_null(gslb_cur_reserve(&r, 1));
    assert_int_equal(r.err, GSLB_EINVAL);
    assert_memory_equal(data, "\x01\x02\x03\x04", 4);
    gslb_cur_rewind(&r, 0); /* reading still works after a rollback */
    assert_int_equal(gslb_cur_get_be32(&r), 0x01020304u);
    assert_int_equal(r.err, 0);
}

/* A writable cursor reads what it wrote (one struct for both directions). */
static void test_write_then_read_back(void **state)
{
    (void)state;
    uint8_t buf[16];
    gslb_cur_t c;
    gslb_cur_init(&c, buf, sizeof(buf));
    gslb_cur_put_le32(&c, 77);
    gslb_cur_put_be16(&c, 0xbeef);
    size_t end = c.pos;
    gslb_cur_rewind(&c, 0);
    assert_int_equal(gslb_cur_get_le32(&c), 77);
    assert_int_equal(gslb_cur_get_be16(&c), 0xbeef);
    assert_int_equal(c.pos, end);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_cursor_sticky),
        cmocka_unit_test(test_read_cursor_u32_and_skip),
        cmocka_unit_test(test_write_cursor_sticky),
        cmocka_unit_test(test_big_endian_put_and_get),
        cmocka_unit_test(test_little_endian_put_and_get),
        cmocka_unit_test(test_raw_accessors),
        cmocka_unit_test(test_write_exactly_to_capacity),
        cmocka_unit_test(test_read_past_end_of_every_width),
        cmocka_unit_test(test_get_bytes_and_take),
        cmocka_unit_test(test_first_error_wins),
        cmocka_unit_test(test_rewind_and_resize),
        cmocka_unit_test(test_reserve_hands_out_room),
        cmocka_unit_test(test_read_only_refuses_writes),
        cmocka_unit_test(test_write_then_read_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
