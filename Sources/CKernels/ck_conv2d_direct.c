// Direct 3x3 convolution (padding 1, dilation 1): forward, backward-data and backward-filter
// at stride 1; forward and backward-filter at stride 2.
//
// x is (n,c,h,w), w is (oc,c,3,3), y is (n,oc,oh,ow) (oh = h at stride 1, (h-1)/2+1 at
// stride 2). With few output channels (16-64, as in
// W3), im2col + GEMM writes a 9x-expanded column matrix and OpenBLAS copies it again to
// pack it, for a GEMM whose M is only oc. This path reads each image in place instead:
//
// - Each image is copied once into a zero-bordered plane per channel: h+2 rows w+1 apart,
//   each image row after one zero, which pads both that row's left end and the previous
//   row's right end. Output pixel (oy, ox) is given the slot q = oy*(w+1) + ox, and tap
//   (kh, kw) reads plane element q + kh*(w+1) + kw: consecutive slots read consecutive
//   inputs across row ends too, so a register block of P slots runs through the whole
//   image with one tail, and the one slot a row that is border is computed and not stored
//   (1/(w+1) of the work, half of what two border columns a row would cost).
// - Stride 2 reads input (2*oy+kh-1, 2*ox+kw-1): slots q = oy*(ow+1) + ox would read with
//   stride 2 and rows 2 apart. So the padded image is split into its four phases (even or
//   odd padded row x even or odd padded column), each oh+1 rows ow+1 apart: tap (kh, kw)
//   reads phase (kh%2, kw%2) at q + (kh/2)*(ow+1) + kw/2, and again consecutive slots
//   read consecutive inputs, with one border slot a row. The register block, the tiles and
//   backward-filter are the same code; only the padding and the tap offsets differ.
// - The weights are re-laid once a call (or once for all calls of an inference model:
//   ck_conv2d_pack_forward), by blocks of 16 output channels, as [block][c][kh][kw][16],
//   so one vector load gives 8 consecutive output channels.
// - The register block is P = 6 slots x 16 channels: 12 accumulators of 8 floats, 2 weight
//   vectors and 1 broadcast input (15 of AVX2's 16 registers); per (c, kh, kw) that is 2
//   weight loads, 6 broadcasts and 12 FMAs. A last block of 8 channels uses one vector.
// - The tile goes out to NCHW through a small transposing copy (the accumulators are pixel
//   by channel); backward-data adds there when it accumulates.
//
// Backward-data of a stride-1, pad-1 3x3 convolution is a forward one: dx = conv(dy, w')
// with w'[c][o][kh][kw] = w[o][c][2-kh][2-kw] (in and out channels swapped, the kernel
// turned 180 degrees), so both passes share the kernel and differ only in the re-layout.
// Backward-filter has its own kernel over the same padded planes (at the end of the file).
// - Backward-data of a stride-2 convolution spreads dy over every other pixel of dx, so it
//   is no forward convolution as a whole, but each of dx's four phases is: with
//   iy = 2a + py, dx row iy takes kernel row 1 from dy row a (py = 0), or kernel rows 2 and 0
//   from dy rows a and a + 1 (py = 1), and the same for columns. dy is padded as a stride-1
//   input (its zero bottom row and the zero after each row pad row a + 1 and column b + 1),
//   and phase (py, px) runs the same register block over the taps (1..1+py, 1..1+px) only:
//   1 + 2 + 2 + 4 = 9 taps in all, the FLOPs of the convolution, with no zero-filled
//   column matrix and no col2im (the lowering ran W3's 16->32 one at 14% of the ceiling).
//
// Written with GCC/clang vector extensions, not intrinsics: the same source builds for any
// x86-64 or aarch64 target (a vector wider than the target's is split by the compiler).
// Threads own (image, channel-block) pairs: each writes its own output planes, and pads the
// image into its own scratch when its next pair is of another image.
#include "ckernels.h"
#include "ck_threads_internal.h"
#include "ck_conv2d_direct_internal.h"
#include "ck_target.h"
#include "ck_pad_phases.h"
#include "ck_vec8.h"

#include <assert.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#ifndef CK_DIRECT_P
#define CK_DIRECT_P 6         // output slots of a register block
#endif
#define CK_DIRECT_BLOCK 16    // output channels of a register block (two vectors)

// MARK: - Mode and shape rule

static ck_conv2d_direct_mode ck_direct_mode = CK_CONV2D_DIRECT_AUTO;

void ck_conv2d_set_direct_mode(ck_conv2d_direct_mode mode) {
    assert(mode == CK_CONV2D_DIRECT_AUTO || mode == CK_CONV2D_DIRECT_NEVER || mode == CK_CONV2D_DIRECT_ALWAYS);
    ck_direct_mode = mode;
}

ck_conv2d_direct_mode ck_conv2d_get_direct_mode(void) { return ck_direct_mode; }

// Where the slots of an image read its padded copy (see the top of the file). Output pixel
// (oy, ox) is slot q = oy*rw + ox, and its tap (kh, kw) reads plane element
// q + ck_direct_tap_row(kh) + ck_direct_tap_col(kw) of each input channel.
typedef struct {
    int stride;          // 1 or 2, both ways
    int oh, ow;          // the output plane
    int rw;              // slots an output row: ow + 1, the last one border
    int slots;           // slots up to the last pixel: (oh-1)*rw + ow
    int phase;           // stride 2: floats of one phase (below); 0 at stride 1
    size_t plane;        // floats of one padded input channel, with the last block's tail
} ck_direct_layout;

// The tap offsets, from the stride S as a constant at each call site (with kh and kw
// unrolled they fold into address arithmetic: a table of the nine offsets read in the
// inner loop cost stride 1 5-8%).
// Stride 1: rows rw apart. Stride 2: padded row 2*oy+kh is row oy + kh/2 of the row phase
// kh%2, and the same for columns; the phases are laid (row parity, column parity).
#define ck_direct_tap_row(kh, rw, phase, S) ((S) == 1 ? (kh) * (rw) : ((kh) & 1) * 2 * (phase) + ((kh) >> 1) * (rw))
#define ck_direct_tap_col(kw, phase, S) ((S) == 1 ? (kw) : ((kw) & 1) * (phase) + ((kw) >> 1))

static ck_direct_layout ck_direct_layout_of(int h, int w, int stride) {
    ck_direct_layout L;
    L.stride = stride;
    L.oh = (h - 1) / stride + 1;
    L.ow = (w - 1) / stride + 1;
    L.rw = L.ow + 1;
    L.slots = (L.oh - 1) * L.rw + L.ow;
    if (stride == 1) {
        // h+2 rows w+1 apart, each image row after one zero.
        L.phase = 0;
        L.plane = (size_t)(h + 2) * L.rw + CK_DIRECT_P;
    } else {
        // Four phases of the zero-padded image (even/odd padded row x even/odd padded
        // column), each oh+1 rows rw apart, then a gap (ck_pad_phases.h).
        L.phase = (int)ck_pad_phase_floats(h, w);
        L.plane = 4 * (size_t)L.phase + CK_DIRECT_P;
    }
    return L;
}

// Slots the register blocks of an image cover, rounded up to whole 8x8 transposes.
static int ck_direct_tile_slots(const ck_direct_layout *L) {
    const int blocked = (L->slots + CK_DIRECT_P - 1) / CK_DIRECT_P * CK_DIRECT_P;
    return (blocked + 7) / 8 * 8;
}

// Per-thread scratch floats: the padded image, then the two tiles of ck_direct_image_block.
static size_t ck_direct_thread_floats(int cin, const ck_direct_layout *L) {
    return (size_t)cin * L->plane + 2 * (size_t)CK_DIRECT_BLOCK * ck_direct_tile_slots(L);
}

// Per-thread scratch (malloc'd within the call) is image-sized: beyond 4 MiB a thread (for
// example 64 channels of 128x128) the lowering, whose workspace is bounded, is taken.
#define CK_DIRECT_MAX_THREAD_FLOATS ((size_t)1 << 20)

// The kernel geometry the direct code takes (3x3, stride 1 or 2 the same both ways,
// padding 1, dilation 1), whatever the image size: all the weight packing needs.
static int ck_direct_kernel_geometry(const ck_conv2d_params *p) {
    return p->kh == 3 && p->kw == 3 && (p->stride_h == 1 || p->stride_h == 2) && p->stride_w == p->stride_h
           && p->pad_h == 1 && p->pad_w == 1 && p->dil_h == 1 && p->dil_w == 1;
}

// The geometry the direct kernel computes: the kernel geometry above, with the per-thread
// scratch of forward and backward-data within bounds (backward-filter's is checked on its own).
static int ck_direct_geometry(const ck_conv2d_params *p) {
    if (!ck_direct_kernel_geometry(p)) return 0;
    const ck_direct_layout L = ck_direct_layout_of(p->h, p->w, p->stride_h);
    return ck_direct_thread_floats(p->c > p->oc ? p->c : p->oc, &L) <= CK_DIRECT_MAX_THREAD_FLOATS;
}

// Per-thread scratch floats of backward-filter (defined with it below).
static size_t ck_direct_filter_thread_floats(const ck_conv2d_params *p);

enum { CK_DIRECT_FORWARD, CK_DIRECT_BACKWARD_DATA, CK_DIRECT_BACKWARD_FILTER };

// Where the direct kernel beats the lowering, read off measurements (docs/performance.md,
// "Direct 3x3 convolution", with the command that repeats them). The forward and
// backward-data kernel fills vectors of 8 channels of what the pass writes (oc forward, c
// backward), while the lowering's GEMM has M = oc rows forward but 9*c rows backward:
// - forward: the lowering's short M loses even with few output channels, so every c >= 2;
//   c = 1 stays on the small path (ckk <= 16) of ck_conv2d.c in every pass.
// - backward-data: with c < 8 (part-empty vectors) against oc >= 16 (a GEMM of useful
//   size) the lowering wins; direct when c >= 8 or oc <= 8.
// - backward-filter: its accumulators pair input channels, and the lowering's GEMM is
//   long; direct from c >= 8 up to c*oc = 128*128.
// Stride 2 measured inside the same rule: direct wins from c = 2 forward, and at 128->256
// neither path does; backward-data's phases keep the stride-1 rule.
static int ck_direct_wins(const ck_conv2d_params *p, int pass) {
    if (p->c < 2) return 0;
    switch (pass) {
    case CK_DIRECT_BACKWARD_DATA: return p->c >= 8 || p->oc <= 8;
    case CK_DIRECT_BACKWARD_FILTER: return p->c >= 8 && (long)p->c * p->oc <= 128 * 128;
    default: return 1;
    }
}

static int ck_direct_chosen(const ck_conv2d_params *p, int pass) {
    if (!ck_direct_geometry(p)) return 0;
    // Winograd (ck_conv2d_winograd.c) takes the stride-1 passes first where it applies.
    if (pass == CK_DIRECT_FORWARD && ck_conv2d_forward_uses_winograd(p)) return 0;
    if (pass == CK_DIRECT_BACKWARD_DATA && ck_conv2d_backward_data_uses_winograd(p)) return 0;
    if (pass == CK_DIRECT_BACKWARD_FILTER && ck_conv2d_backward_filter_uses_winograd(p)) return 0;
    if (pass == CK_DIRECT_BACKWARD_FILTER && ck_direct_filter_thread_floats(p) > CK_DIRECT_MAX_THREAD_FLOATS) return 0;
    switch (ck_direct_mode) {
    case CK_CONV2D_DIRECT_NEVER: return 0;
    case CK_CONV2D_DIRECT_ALWAYS: return 1;
    default: return ck_direct_wins(p, pass);
    }
}

int ck_conv2d_forward_uses_direct(const ck_conv2d_params *p) {
    assert(p != NULL);
    return ck_direct_chosen(p, CK_DIRECT_FORWARD);
}

int ck_conv2d_backward_data_uses_direct(const ck_conv2d_params *p) {
    assert(p != NULL);
    return ck_direct_chosen(p, CK_DIRECT_BACKWARD_DATA);
}

int ck_conv2d_backward_filter_uses_direct(const ck_conv2d_params *p) {
    assert(p != NULL);
    return ck_direct_chosen(p, CK_DIRECT_BACKWARD_FILTER);
}

// MARK: - Workspace

// Output channels rounded up to whole vectors.
static size_t ck_direct_padded(int cout) { return ((size_t)cout + 7) / 8 * 8; }

// Re-laid weights (cin*9*coutp) then the padded bias (coutp): where the bias starts, and
// the whole.
static size_t ck_direct_pass_bias_at(int cin, int cout) { return (size_t)cin * 9 * ck_direct_padded(cout); }
static size_t ck_direct_pass_floats(int cin, int cout) {
    return ck_direct_pass_bias_at(cin, cout) + ck_direct_padded(cout);
}

size_t ck_conv2d_direct_workspace_floats(const ck_conv2d_params *p) {
    if (!ck_direct_geometry(p)) return 0;
    const size_t fwd = ck_direct_pass_floats(p->c, p->oc), bwd = ck_direct_pass_floats(p->oc, p->c);
    return fwd > bwd ? fwd : bwd;
}

// MARK: - Re-layout

// wt[block][ci][t][j] = weight of the pass's output channel 16*block + j, input channel ci,
// tap t (0 for lanes past cout). A block is 16 lanes wide except a last one of 8. backward
// re-lays w (oc, c, 3, 3) for backward-data, whose cin is oc and cout is c.
static void ck_direct_relayout(float *wt, const float *w, int cin, int cout, int backward) {
    const int coutp = (int)ck_direct_padded(cout);
    for (int b0 = 0; b0 < coutp; b0 += CK_DIRECT_BLOCK) {
        const int lanes = coutp - b0 < CK_DIRECT_BLOCK ? coutp - b0 : CK_DIRECT_BLOCK;
        float *blk = wt + (size_t)b0 * cin * 9;
        for (int ci = 0; ci < cin; ci++) {
            for (int t = 0; t < 9; t++) {
                float *dst = blk + ((size_t)ci * 9 + t) * lanes;
                for (int j = 0; j < lanes; j++) {
                    const int o = b0 + j;
                    float v = 0.0f;
                    if (o < cout) {
                        // forward: w[o][ci][t]; backward-data: the pass's output o is x's
                        // channel and its input ci is y's, tap turned 180 degrees.
                        v = backward ? w[((size_t)ci * cout + o) * 9 + (8 - t)] : w[((size_t)o * cin + ci) * 9 + t];
                    }
                    dst[j] = v;
                }
            }
        }
    }
}

// Stride-2 backward-data's weights: the phases (py, px) = (0,0), (0,1), (1,0), (1,1) one
// after another, each laid as above over its own taps only, (1+py)*(1+px) of them:
// [block][ci][t][j] with t = (kh'-1)*(1+px) + (kw'-1) for the padded-dy taps kh', kw' in
// 1..1+py and 1..1+px. Tap kh' of a phase is kernel row 1 (py = 0), or 2 (kh' = 1, dy row a)
// and 0 (kh' = 2, dy row a + 1) for odd dx rows; columns alike. The pass's input ci is dy's
// channel, its output o dx's: w[ci][o][kh][kw], with no turn (the phases place the taps).
static void ck_direct_relayout_s2_data(float *wt, const float *w, int cin, int cout) {
    const int coutp = (int)ck_direct_padded(cout);
    float *phase_base = wt;
    for (int py = 0; py < 2; py++) {
        for (int px = 0; px < 2; px++) {
            const int tw = 1 + px, taps = (1 + py) * tw;
            for (int b0 = 0; b0 < coutp; b0 += CK_DIRECT_BLOCK) {
                const int lanes = coutp - b0 < CK_DIRECT_BLOCK ? coutp - b0 : CK_DIRECT_BLOCK;
                float *blk = phase_base + (size_t)b0 * cin * taps;
                for (int ci = 0; ci < cin; ci++) {
                    for (int t = 0; t < taps; t++) {
                        const int th = 1 + t / tw, tc = 1 + t % tw;  // kh', kw'
                        const int kh = py == 0 ? 1 : (th == 1 ? 2 : 0), kw = px == 0 ? 1 : (tc == 1 ? 2 : 0);
                        float *dst = blk + ((size_t)ci * taps + t) * lanes;
                        for (int j = 0; j < lanes; j++) {
                            const int o = b0 + j;
                            dst[j] = o < cout ? w[((size_t)ci * cout + o) * 9 + kh * 3 + kw] : 0.0f;
                        }
                    }
                }
            }
            phase_base += (size_t)taps * cin * coutp;
        }
    }
}

// MARK: - Kernel

// Stride 2: phase (a, b) holds padded[2r + a][2s + b] (that is x[2r+a-1][2s+b-1], or 0
// off the image) at r*rw + s, for r <= oh and s <= ow (ck_pad_phases, shared with the
// Winograd kernel); then zeros to the end.
// The padding is called inside the passes' parallel regions, whose bodies do not inherit
// target_clones, so it is a CK_MULTIVERSION worker of its own, and its short row copies
// (7-56 floats, where a memcpy call costs more than the copy: 5-8% of W3) are vector moves
// written out, with no loop that clang's idiom recognition would turn back into a memcpy call.
typedef float ck_v4u __attribute__((vector_size(16), aligned(4), may_alias));

// The copy of one row of `count` floats: whole vectors of 8, then the last 8 (or 4) again
// overlapping, or up to three single floats.
static inline __attribute__((always_inline)) void ck_direct_copy_row(float *restrict dst, const float *restrict src,
                                                                     int count) {
    if (count >= 8) {
        for (int k = 0; k + 8 <= count; k += 8) ck_v8_store(dst + k, ck_v8_load(src + k));
        ck_v8_store(dst + count - 8, ck_v8_load(src + count - 8));
    } else if (count >= 4) {
        *(ck_v4u *)dst = *(const ck_v4u *)src;
        *(ck_v4u *)(dst + count - 4) = *(const ck_v4u *)(src + count - 4);
    } else {
        if (count > 0) dst[0] = src[0];
        if (count > 1) dst[1] = src[1];
        if (count > 2) dst[2] = src[2];
    }
}

// Inlined into each clone of ck_direct_pad_image, its only caller.
static inline __attribute__((always_inline)) void ck_direct_pad_image_phases(float *xp, const float *x, int cin, int h, int w,
                                                                                const ck_direct_layout *L) {
    for (int ci = 0; ci < cin; ci++) {
        float *dst = xp + (size_t)ci * L->plane;
        ck_pad_phases(dst, x + (size_t)ci * h * w, h, w, (size_t)L->phase);
        memset(dst + 4 * (size_t)L->phase, 0, sizeof(float) * (L->plane - 4 * (size_t)L->phase));
    }
}

// Pads one image (cin, h, w) into planes of `plane` floats laid out as L says. Stride 1: a
// zero row, then each image row after one zero (rows w+1 apart), then zeros to the end (the
// bottom row, and the reads of the last register block). The one zero between two rows
// pads both: the right neighbour of a row's last pixel is the next row's leading zero.
static CK_MULTIVERSION void ck_direct_pad_image(float *xp, const float *x, int cin, int h, int w,
                                              const ck_direct_layout *L) {
    const size_t plane = L->plane;
    if (L->stride == 2) {
        ck_direct_pad_image_phases(xp, x, cin, h, w, L);
        return;
    }
    const int w1 = w + 1;
    for (int ci = 0; ci < cin; ci++) {
        float *dst = xp + (size_t)ci * plane;
        const float *src = x + (size_t)ci * h * w;
        memset(dst, 0, sizeof(float) * (size_t)w1);
        // Not vectorized across rows: the v4 clone made the leading zeros an AVX-512 scatter.
        #pragma clang loop vectorize(disable)
        for (int r = 0; r < h; r++) {
            float *row = dst + (size_t)(r + 1) * w1;
            row[0] = 0.0f;
            ck_direct_copy_row(row + 1, src + (size_t)r * w, w);
        }
        memset(dst + (size_t)(h + 1) * w1, 0, sizeof(float) * (plane - (size_t)(h + 1) * w1));
    }
}

// out[p][j] (P x 8*V) = bias[j] + sum over ci, taps of xq[ci*plane + tap offset + p] * wb,
// over kernel rows [H0, H1) and columns [W0, W1) (all nine taps but in backward-data's
// stride-2 phases); wb holds each input channel's taps in that order, (H1-H0)*(W1-W0) of them.
// V (1 or 2), the stride S and the tap range are constants at each call site, so the
// accumulators stay in registers and the tap offsets fold.
static inline __attribute__((always_inline)) void
ck_direct_block_taps(float *restrict out, const float *restrict xq, const float *restrict wb,
                     const float *restrict bias, int cin, size_t plane, int rw, int phase, const int V, const int S,
                     const int H0, const int H1, const int W0, const int W1) {
    const int TW = W1 - W0, T = (H1 - H0) * TW;
    ck_v8 acc[CK_DIRECT_P][2];
    const ck_v8 b0 = ck_v8_load(bias), b1 = V == 2 ? ck_v8_load(bias + 8) : b0;
    for (int p = 0; p < CK_DIRECT_P; p++) {
        acc[p][0] = b0;
        acc[p][1] = b1;
    }
    for (int ci = 0; ci < cin; ci++) {
        const float *xc = xq + (size_t)ci * plane;
        const float *wc = wb + (size_t)ci * T * 8 * V;
        for (int kh = H0; kh < H1; kh++) {
            for (int kw = W0; kw < W1; kw++) {
                const float *xr = xc + ck_direct_tap_row(kh, rw, phase, S) + ck_direct_tap_col(kw, phase, S);
                const float *wt = wc + ((kh - H0) * TW + (kw - W0)) * 8 * V;
                const ck_v8 wv0 = ck_v8_load(wt);
                if (V == 2) {
                    const ck_v8 wv1 = ck_v8_load(wt + 8);
                    for (int p = 0; p < CK_DIRECT_P; p++) {
                        const float s = xr[p];
                        acc[p][0] += s * wv0;
                        acc[p][1] += s * wv1;
                    }
                } else {
                    for (int p = 0; p < CK_DIRECT_P; p++) acc[p][0] += xr[p] * wv0;
                }
            }
        }
    }
    for (int p = 0; p < CK_DIRECT_P; p++) {
        ck_v8_store(out + p * 8 * V, acc[p][0]);
        if (V == 2) ck_v8_store(out + p * 8 * V + 8, acc[p][1]);
    }
}

// All nine taps: forward, and stride-1 backward-data.
#define ck_direct_block(out, xq, wb, bias, cin, plane, rw, phase, V, S) \
    ck_direct_block_taps(out, xq, wb, bias, cin, plane, rw, phase, V, S, 0, 3, 0, 3)

// One (image, channel block): y planes [b0, b0 + valid) of one image from its padded copy.
// The register blocks leave the image pixel by channel in tile (slot-major, lanes a row);
// 8x8 transposes turn it channel by slot into plane (nslots a row, still with the border
// slots), and each output row is then one contiguous copy (or sum) out of it: scattering
// the register tiles one float at a time was a large share of the time at 16 channels in
// (docs/performance.md, "Direct 3x3 convolution").
CK_MULTIVERSION static void ck_direct_image_block(float *restrict y, const float *xp, const float *wb, const float *bias,
                                  int cin, const ck_direct_layout *L, int lanes, int valid, int accumulate,
                                  float *restrict tile, float *restrict planes) {
    const int oh = L->oh, ow = L->ow, rw = L->rw, slots = L->slots, nslots = ck_direct_tile_slots(L);
    const size_t hw = (size_t)oh * ow;
    const int phase = L->phase;
    const size_t plane = L->plane;
    for (int q0 = 0; q0 < slots; q0 += CK_DIRECT_P) {
        float *out = tile + (size_t)q0 * lanes;
        if (L->stride == 1) {
            if (lanes == 16) ck_direct_block(out, xp + q0, wb, bias, cin, plane, rw, phase, 2, 1);
            else ck_direct_block(out, xp + q0, wb, bias, cin, plane, rw, phase, 1, 1);
        } else {
            if (lanes == 16) ck_direct_block(out, xp + q0, wb, bias, cin, plane, rw, phase, 2, 2);
            else ck_direct_block(out, xp + q0, wb, bias, cin, plane, rw, phase, 1, 2);
        }
    }
    ck_tile_to_planes(planes, tile, slots, lanes, nslots);
    for (int j = 0; j < valid; j++) {
        for (int oy = 0; oy < oh; oy++) {
            const float *restrict src = planes + (size_t)j * nslots + (size_t)oy * rw;
            float *restrict dst = y + j * hw + (size_t)oy * ow;
            if (accumulate) {
                for (int ox = 0; ox < ow; ox++) dst[ox] += src[ox];
            } else {
                memcpy(dst, src, sizeof(float) * (size_t)ow);
            }
        }
    }
}

// Registers blocks over the taps (1..1+py, 1..1+px) of stride-2 backward-data's phase
// (py, px), with V and the phase as constants.
#define CK_DIRECT_S2_DATA_BLOCK(PY, PX)                                                                    \
    do {                                                                                                   \
        if (lanes == 16) ck_direct_block_taps(out, xq, wb, bias, cin, plane, rw, 0, 2, 1, 1, 2 + (PY), 1, 2 + (PX)); \
        else ck_direct_block_taps(out, xq, wb, bias, cin, plane, rw, 0, 1, 1, 1, 2 + (PY), 1, 2 + (PX));            \
    } while (0)

// One (image, channel block) of stride-2 backward-data: dx planes [b0, b0 + valid) of one
// image (h, w) from the stride-1 padding of its dy (L, cin = dy's channels), phase after
// phase (see the top of the file). wt holds the four phases' weights one after another
// (ck_direct_relayout_s2_data); bias is the block's zero bias.
CK_MULTIVERSION static void ck_direct_image_block_s2_data(float *restrict dx, const float *dyp, const float *wt,
                                                          const float *bias, int cin, int coutp, int b0,
                                                          const ck_direct_layout *L, int h, int w, int lanes,
                                                          int valid, int accumulate, float *restrict tile,
                                                          float *restrict planes) {
    const int rw = L->rw, nslots = ck_direct_tile_slots(L);
    const size_t plane = L->plane, hw = (size_t)h * w;
    size_t taps_before = 0;  // taps of the phases before this one
    for (int py = 0; py < 2; py++) {
        for (int px = 0; px < 2; px++) {
            const int taps = (1 + py) * (1 + px);
            const float *wb = wt + taps_before * cin * coutp + (size_t)b0 * cin * taps;
            taps_before += taps;
            // dx rows 2a + py and columns 2b + px: a < ah, b < bw (none with h or w 1).
            const int ah = (h - py + 1) / 2, bw = (w - px + 1) / 2;
            if (ah == 0 || bw == 0) continue;
            const int slots = (ah - 1) * rw + bw;
            for (int q0 = 0; q0 < slots; q0 += CK_DIRECT_P) {
                float *out = tile + (size_t)q0 * lanes;
                const float *xq = dyp + q0;
                if (py == 0 && px == 0) CK_DIRECT_S2_DATA_BLOCK(0, 0);
                else if (py == 0) CK_DIRECT_S2_DATA_BLOCK(0, 1);
                else if (px == 0) CK_DIRECT_S2_DATA_BLOCK(1, 0);
                else CK_DIRECT_S2_DATA_BLOCK(1, 1);
            }
            ck_tile_to_planes(planes, tile, slots, lanes, nslots);
            for (int j = 0; j < valid; j++) {
                for (int a = 0; a < ah; a++) {
                    const float *restrict src = planes + (size_t)j * nslots + (size_t)a * rw;
                    float *restrict dst = dx + j * hw + (size_t)(2 * a + py) * w + px;
                    // Scalar stores: no AVX-512 scatters (microcoded on AMD, see backward-filter).
                    if (accumulate) {
                        #pragma clang loop vectorize(disable)
                        for (int b = 0; b < bw; b++) dst[2 * b] += src[b];
                    } else {
                        #pragma clang loop vectorize(disable)
                        for (int b = 0; b < bw; b++) dst[2 * b] = src[b];
                    }
                }
            }
        }
    }
}
#undef CK_DIRECT_S2_DATA_BLOCK

// y (n, cout, oh, ow) (=, or += with accumulate) direct 3x3 pad-1 convolution of x (n,
// cin, h, w) at stride 1 or 2 with re-laid weights wt and padded bias. With data_h > 0 it is
// stride-2 backward-data instead: x is dy (stride 1 here), y is dx of data_h x data_w, and
// wt holds the phases' weights. Returns 0 (nothing written) if the per-thread scratch cannot
// be allocated.
static int ck_direct_run(float *y, const float *x, const float *wt, const float *bias,
                         int n, int cin, int cout, int h, int w, int stride, int accumulate,
                         int data_h, int data_w) {
    const ck_direct_layout L = ck_direct_layout_of(h, w, stride);
    const int coutp = (int)ck_direct_padded(cout);
    const int blocks = (coutp + CK_DIRECT_BLOCK - 1) / CK_DIRECT_BLOCK;
    const int pairs = n * blocks;
    const size_t per_thread = ck_direct_thread_floats(cin, &L);
    const size_t tile_floats = (size_t)CK_DIRECT_BLOCK * ck_direct_tile_slots(&L);
    const int all = ck_region_threads(), threads = all < pairs ? all : pairs;
    float *scratch = malloc((size_t)threads * per_thread * sizeof(float));
    if (scratch == NULL) return 0;
    const size_t ohow = data_h > 0 ? (size_t)data_h * data_w : (size_t)L.oh * L.ow;
    const size_t in_image = (size_t)cin * h * w, out_image = (size_t)cout * ohow;
    #pragma omp parallel num_threads(threads)
    {
        float *xp = scratch + (size_t)omp_get_thread_num() * per_thread;
        float *tile = xp + (size_t)cin * L.plane, *planes = tile + tile_floats;
        int padded = -1;  // the image xp holds
        #pragma omp for schedule(static)
        for (int i = 0; i < pairs; i++) {
            const int img = i / blocks, b = i % blocks;
            if (img != padded) {
                ck_direct_pad_image(xp, x + (size_t)img * in_image, cin, h, w, &L);
                padded = img;
            }
            const int b0 = b * CK_DIRECT_BLOCK;
            const int lanes = coutp - b0 < CK_DIRECT_BLOCK ? coutp - b0 : CK_DIRECT_BLOCK;
            const int valid = cout - b0 < lanes ? cout - b0 : lanes;
            if (data_h > 0) {
                ck_direct_image_block_s2_data(y + (size_t)img * out_image + (size_t)b0 * ohow, xp, wt, bias + b0,
                                              cin, coutp, b0, &L, data_h, data_w, lanes, valid, accumulate,
                                              tile, planes);
                continue;
            }
            ck_direct_image_block(y + (size_t)img * out_image + (size_t)b0 * ohow, xp,
                                  wt + (size_t)b0 * cin * 9, bias + b0, cin, &L, lanes, valid,
                                  accumulate, tile, planes);
        }
    }
    free(scratch);
    return 1;
}

// MARK: - Passes

int ck_conv2d_direct_forward(float *y, const float *x, const float *w, const float *bias,
                             float *workspace, const ck_conv2d_params *p) {
    assert(ck_direct_geometry(p));
    ck_conv2d_direct_pack_forward(workspace, w, bias, p);
    return ck_conv2d_direct_forward_packed(y, x, workspace, p);
}

int ck_conv2d_direct_backward_data(float *dx, const float *dy, const float *w,
                                   float *workspace, const ck_conv2d_params *p, int accumulate) {
    assert(ck_direct_geometry(p));
    const size_t coutp = ck_direct_padded(p->c);
    float *wt = workspace, *bp = workspace + ck_direct_pass_bias_at(p->oc, p->c);
    memset(bp, 0, sizeof(float) * coutp);
    if (p->stride_h == 2) {
        // Phases of dx over dy padded as a stride-1 input (dy's plane is oh x ow).
        ck_direct_relayout_s2_data(wt, w, p->oc, p->c);
        const int oh = (p->h - 1) / 2 + 1, ow = (p->w - 1) / 2 + 1;
        return ck_direct_run(dx, dy, wt, bp, p->n, p->oc, p->c, oh, ow, 1, accumulate, p->h, p->w);
    }
    ck_direct_relayout(wt, w, p->oc, p->c, 1);
    return ck_direct_run(dx, dy, wt, bp, p->n, p->oc, p->c, p->h, p->w, 1, accumulate, 0, 0);
}

// MARK: - Pre-packed forward (inference)

// The re-layout depends only on the weights, so a model whose weights do not change (an
// inference snapshot) packs them once instead of on every call (5-7% of a batch-1 W2 call).
size_t ck_conv2d_direct_packed_floats(const ck_conv2d_params *p) {
    return ck_direct_kernel_geometry(p) ? ck_direct_pass_floats(p->c, p->oc) : 0;
}

void ck_conv2d_direct_pack_forward(float *packed, const float *w, const float *bias, const ck_conv2d_params *p) {
    assert(ck_conv2d_direct_packed_floats(p) > 0);
    const size_t coutp = ck_direct_padded(p->oc);
    float *bp = packed + ck_direct_pass_bias_at(p->c, p->oc);
    ck_direct_relayout(packed, w, p->c, p->oc, 0);
    for (size_t o = 0; o < coutp; o++) bp[o] = bias != NULL && o < (size_t)p->oc ? bias[o] : 0.0f;
}

int ck_conv2d_direct_forward_packed(float *y, const float *x, const float *packed, const ck_conv2d_params *p) {
    assert(ck_direct_geometry(p));
    const float *bp = packed + ck_direct_pass_bias_at(p->c, p->oc);
    return ck_direct_run(y, x, packed, bp, p->n, p->c, p->oc, p->h, p->w, p->stride_h, 0, 0, 0);
}

// MARK: - Backward-filter

// dw[o][ci][kh][kw] += sum over images and pixels of dy[img][o][pix] * x[img][ci][pix + tap],
// the forward's slot arithmetic read the other way round. Per image, dy goes to slot-major
// tiles (slot by 16 channels, zero at the border slots) and x to the padded planes; then for
// each (16-channel block, pair of input channels, kernel row) 12 accumulators (2 channels x
// 3 taps x 2 vectors) run over all the slots: per slot 2 dy loads, 6 broadcasts, 12 FMAs.
// Threads own images; each keeps its partial dw in float, laid out as the forward's re-laid
// weights so that sums go out as whole vectors, and the partials are added in thread order
// in double at the end (as the small path of ck_conv2d.c does).

// part[cc][kh][kw][0..8V) += sum over q < slots of x[cc][q + tap col kw] * dys[q][0..8V), for
// CC (1 or 2) input-channel rows x[cc] already offset by kernel row kh (part then points at
// that row's taps, channel ci's block [9][lanes]). V, CC and the stride S are constants at
// each call site.
static inline __attribute__((always_inline)) void
ck_direct_filter_rows(float *restrict part, int lanes, const float *restrict dys, const float *restrict x0,
                      const float *restrict x1, int phase, int slots, const int CC, const int V, const int S) {
    ck_v8 acc[2][3][2];
    for (int cc = 0; cc < 2; cc++) {
        for (int kw = 0; kw < 3; kw++) acc[cc][kw][0] = acc[cc][kw][1] = (ck_v8){0};
    }
    for (int q = 0; q < slots; q++) {
        const ck_v8 d0 = ck_v8_load(dys + (size_t)q * lanes);
        const ck_v8 d1 = V == 2 ? ck_v8_load(dys + (size_t)q * lanes + 8) : d0;
        for (int kw = 0; kw < 3; kw++) {
            const float s0 = x0[q + ck_direct_tap_col(kw, phase, S)];
            acc[0][kw][0] += s0 * d0;
            if (V == 2) acc[0][kw][1] += s0 * d1;
            if (CC == 2) {
                const float s1 = x1[q + ck_direct_tap_col(kw, phase, S)];
                acc[1][kw][0] += s1 * d0;
                if (V == 2) acc[1][kw][1] += s1 * d1;
            }
        }
    }
    for (int cc = 0; cc < CC; cc++) {
        for (int kw = 0; kw < 3; kw++) {
            for (int v = 0; v < V; v++) {
                float *dst = part + ((size_t)cc * 9 + kw) * lanes + 8 * v;
                ck_v8_store(dst, ck_v8_load(dst) + acc[cc][kw][v]);
            }
        }
    }
}

// ck_direct_filter_rows with CC = pair and V = lanes / 8 as constants, for a constant stride.
static inline __attribute__((always_inline)) void
ck_direct_filter_dispatch_stride(float *restrict part, int lanes, const float *restrict dys,
                                 const float *restrict x0, const float *restrict x1, int phase, int slots,
                                 int pair, int stride) {
    if (lanes == 16) {
        if (pair == 2) ck_direct_filter_rows(part, lanes, dys, x0, x1, phase, slots, 2, 2, stride);
        else ck_direct_filter_rows(part, lanes, dys, x0, x1, phase, slots, 1, 2, stride);
    } else {
        if (pair == 2) ck_direct_filter_rows(part, lanes, dys, x0, x1, phase, slots, 2, 1, stride);
        else ck_direct_filter_rows(part, lanes, dys, x0, x1, phase, slots, 1, 1, stride);
    }
}

// ck_direct_filter_rows with its constants chosen: CC = pair, V = lanes / 8, S = stride.
CK_MULTIVERSION static void ck_direct_filter_dispatch(float *restrict part, int lanes, const float *restrict dys,
                                      const float *restrict x0, const float *restrict x1, int phase, int slots,
                                      int pair, int stride) {
    if (stride == 1) ck_direct_filter_dispatch_stride(part, lanes, dys, x0, x1, phase, slots, pair, 1);
    else ck_direct_filter_dispatch_stride(part, lanes, dys, x0, x1, phase, slots, pair, 2);
}

// Per-thread scratch floats of backward-filter: the padded image, dy's slot-major tiles
// (all blocks), the partial dw (re-laid, c*9*ocp), then the partial dbias in double.
// Rounded up to 16 floats, so each thread's block starts on its own cache line.
static size_t ck_direct_filter_thread_floats(const ck_conv2d_params *p) {
    const ck_direct_layout L = ck_direct_layout_of(p->h, p->w, p->stride_h);
    const size_t ocp = ck_direct_padded(p->oc);
    const size_t floats = (size_t)p->c * L.plane + ocp * ck_direct_tile_slots(&L)
        + (size_t)p->c * 9 * ocp + 1 + 2 * (size_t)p->oc;
    return (floats + 15) / 16 * 16;
}

// One image of backward-filter, in the thread's scratch: pad x, lay dy out slot-major by
// blocks of 16 channels, and add the image's taps into part (and dy's sums into bsum unless
// it is NULL: W3's convolutions have no bias). A
// worker of its own: the region's body would not inherit target_clones.
static CK_MULTIVERSION void ck_direct_filter_image(float *xp, float *dys, float *part, double *bsum,
                                                   const float *xi, const float *dyi, int cin, int cout,
                                                   int h, int w, const ck_direct_layout *L) {
    const int oh = L->oh, ow = L->ow, rw = L->rw;
    const int coutp = (int)ck_direct_padded(cout);
    const int slots = L->slots, nslots = ck_direct_tile_slots(L);
    const size_t plane = L->plane, ohow = (size_t)oh * ow;
    ck_direct_pad_image(xp, xi, cin, h, w, L);
    memset(dys, 0, sizeof(float) * (size_t)coutp * nslots);
    for (int o = 0; o < cout; o++) {
        const int b0 = o / CK_DIRECT_BLOCK * CK_DIRECT_BLOCK;
        const int lanes = coutp - b0 < CK_DIRECT_BLOCK ? coutp - b0 : CK_DIRECT_BLOCK;
        float *dst = dys + (size_t)b0 * nslots + (o - b0);
        const float *src = dyi + (size_t)o * ohow;
        for (int oy = 0; oy < oh; oy++) {
            // Scalar stores: the x86-64-v4 clone vectorized this into AVX-512 scatters, which AMD's
            // cores run microcoded (backward-filter 12% slower, docs/performance.md).
            #pragma clang loop vectorize(disable)
            for (int ox = 0; ox < ow; ox++) dst[(size_t)(oy * rw + ox) * lanes] = src[(size_t)oy * ow + ox];
        }
        if (bsum != NULL) {
            // In vector lanes: one double chain waited out the add's latency on every value
            // (W2's conv2 backward-filter 6% slower than with the sum inside the copy loop).
            double sum = 0.0;
            #pragma omp simd reduction(+:sum)
            for (size_t k = 0; k < ohow; k++) sum += src[k];
            bsum[o] += sum;
        }
    }
    for (int b0 = 0; b0 < coutp; b0 += CK_DIRECT_BLOCK) {
        const int lanes = coutp - b0 < CK_DIRECT_BLOCK ? coutp - b0 : CK_DIRECT_BLOCK;
        const float *dyb = dys + (size_t)b0 * nslots;
        for (int ci = 0; ci < cin; ci += 2) {
            const int pair = cin - ci >= 2 ? 2 : 1;
            for (int kh = 0; kh < 3; kh++) {
                const float *x0 = xp + (size_t)ci * plane + ck_direct_tap_row(kh, rw, L->phase, L->stride);
                const float *x1 = pair == 2 ? x0 + plane : x0;
                float *pr = part + (size_t)b0 * cin * 9 + ((size_t)ci * 9 + kh * 3) * lanes;
                ck_direct_filter_dispatch(pr, lanes, dyb, x0, x1, L->phase, slots, pair, L->stride);
            }
        }
    }
}

int ck_conv2d_direct_backward_filter(float *dw, float *dbias, const float *dy, const float *x,
                                     const ck_conv2d_params *p) {
    assert(ck_direct_geometry(p));
    const ck_direct_layout L = ck_direct_layout_of(p->h, p->w, p->stride_h);
    const int cin = p->c, cout = p->oc, h = p->h, w = p->w;
    const int coutp = (int)ck_direct_padded(cout);
    const int nslots = ck_direct_tile_slots(&L);
    const size_t plane = L.plane, hw = (size_t)h * w, ohow = (size_t)L.oh * L.ow;
    const size_t per_thread = ck_direct_filter_thread_floats(p), weights = (size_t)cin * 9 * coutp;
    const size_t part_at = (size_t)cin * plane + (size_t)coutp * nslots;
    const size_t bias_at = (part_at + weights + 1) / 2 * 2;  // 8-byte aligned for the doubles
    const int all = ck_region_threads(), threads = all < p->n ? all : p->n;
    float *scratch = malloc((size_t)threads * per_thread * sizeof(float));
    if (scratch == NULL) return 0;
    #pragma omp parallel num_threads(threads)
    {
        float *xp = scratch + (size_t)omp_get_thread_num() * per_thread;
        float *dys = xp + (size_t)cin * plane;  // block b0 at dys + b0 * nslots, rows of `lanes`
        float *part = xp + part_at;
        double *bsum = (double *)(xp + bias_at);
        memset(part, 0, sizeof(float) * weights);
        memset(bsum, 0, sizeof(double) * cout);
        #pragma omp for schedule(static)
        for (int img = 0; img < p->n; img++) {
            ck_direct_filter_image(xp, dys, part, dbias != NULL ? bsum : NULL, x + (size_t)img * cin * hw,
                                   dy + (size_t)img * cout * ohow, cin, cout, h, w, &L);
        }
    }
    // The threads' partials, in thread order and in double, into dw (oc, c, 3, 3).
    for (int o = 0; o < cout; o++) {
        const int b0 = o / CK_DIRECT_BLOCK * CK_DIRECT_BLOCK;
        const int lanes = coutp - b0 < CK_DIRECT_BLOCK ? coutp - b0 : CK_DIRECT_BLOCK;
        for (int ci = 0; ci < cin; ci++) {
            for (int t = 0; t < 9; t++) {
                const size_t at = part_at + (size_t)b0 * cin * 9 + ((size_t)ci * 9 + t) * lanes + (o - b0);
                double total = 0.0;
                for (int th = 0; th < threads; th++) total += scratch[(size_t)th * per_thread + at];
                dw[((size_t)o * cin + ci) * 9 + t] += (float)total;
            }
        }
    }
    if (dbias != NULL) {
        for (int o = 0; o < cout; o++) {
            double total = 0.0;
            for (int th = 0; th < threads; th++) total += ((const double *)(scratch + (size_t)th * per_thread + bias_at))[o];
            dbias[o] += (float)total;
        }
    }
    free(scratch);
    return 1;
}
