/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * layout.c: dmover_io.h has NetBSD's LP64 layout (dmio_buffer 16,
 * dmio_usrreq 40, dmio_usrresp 16, dmio_setfunc 64 bytes, same offsets) and
 * ioctl numbers (Linux _IOW encoding 0x40404400, NetBSD's 0x80404400).
 */
#include <stddef.h>
#include "dmio_test.h"

static void test_struct_layout_matches_netbsd_lp64(void) {
    CHECK_EQ(sizeof(dmio_buffer), 16);
    CHECK_EQ(offsetof(dmio_buffer, dmbuf_iovcnt), 8);
    CHECK_EQ(sizeof(struct dmio_usrreq), 40);
    CHECK_EQ(offsetof(struct dmio_usrreq, req_outbuf), 0);
    CHECK_EQ(offsetof(struct dmio_usrreq, req_immediate), 16);
    CHECK_EQ(offsetof(struct dmio_usrreq, req_inbuf), 24);
    CHECK_EQ(offsetof(struct dmio_usrreq, req_id), 32);
    CHECK_EQ(sizeof(struct dmio_usrresp), 16);
    CHECK_EQ(offsetof(struct dmio_usrresp, resp_error), 4);
    CHECK_EQ(offsetof(struct dmio_usrresp, resp_immediate), 8);
    CHECK_EQ(sizeof(struct dmio_setfunc), 64);
    CHECK_EQ(DMIO_MAX_FUNCNAME, 64);
    CHECK_EQ(DMIO_NREQS_MAX, 64);
}

static void test_ioctl_numbers(void) {
    CHECK_EQ(DMIO_SETFUNC, 0x40404400UL);
    CHECK_EQ(DMIO_SETFUNC_NETBSD, 0x80404400UL);
}

int main(void) {
    RUN(test_struct_layout_matches_netbsd_lp64);
    RUN(test_ioctl_numbers);
    return harness_finish();
}
