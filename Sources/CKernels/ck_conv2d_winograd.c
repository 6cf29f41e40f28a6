// Winograd F(2x2, 3x3) convolution: forward and backward-data of a 3x3, stride-1, pad-1,
// dilation-1 convolution, with 16 multiplications per 2x2 output tile where the direct
// kernel (ck_conv2d_direct.c) makes 36 (Lavin and Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2015; NNPACK and oneDNN have it).
//
// x is (n,c,h,w), w is (oc,c,3,3), y is (n,oc,h,w). For each 2x2 output tile at (2ty, 2tx)
// the 4x4 input patch d starting at padded (2ty, 2tx) and each filter g give
//   y_tile = A^T [ (G g G^T) . (B^T d B) ] A        (. elementwise, 4x4)
// with B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5;
// 0 0 1], A^T = [1 1 1 0; 0 1 -1 -1]. Summed over input channels, each of the 16 positions
// of the 4x4 is a matrix product: M[pos] (tiles x oc) = V[pos] (tiles x c) U[pos] (c x oc).
//
// - The weights are transformed once a call into U[pos][block][c][16] (blocks of 16 output
//   channels, a last one of 8), as the direct kernel lays its weights.
// - Each image is padded one channel at a time into the four phases (even or odd padded row
//   x even or odd padded column) that the direct kernel's stride-2 path uses
//   (ck_pad_phases.h), rows tw+1 apart: patch element (r, s) of tile (ty, tx) is phase
//   (r%2, s%2) at (ty + r/2)*(tw+1) + tx + s/2, so the input transform of 8 tiles of a row
//   is whole-vector arithmetic.
//   V[pos][c][t] (tile t = ty*tw + tx) is the image's transform, kept while the thread's
//   next (image, channel block) is of the same image.
// - The product is the direct kernel's register block: R = 4-6 tiles (whichever leaves the
//   fewest idle at the image's end) x 16 channels, per input channel 2 weight loads, R
//   broadcasts, 2R FMAs; its 16 positions go to a small scratch, the output transform turns
//   them into 2x2 pixels of 16 channels, and the tile goes out to NCHW through the same
//   8x8 transposes (ck_vec8.h).
// - Backward-data of a stride-1 pad-1 3x3 convolution is a forward one with in and out
//   channels swapped and the kernel turned 180 degrees, so it is the same kernel with
//   another filter transform (and an accumulating store).
// - Backward-filter is the transpose of the same algorithm: with Y_t = A dy_t A^T (dy's 2x2
//   block of tile t, turned 4x4), dw[o][c] = G^T [ sum over tiles of Y_t[o] . V_t[c] ] G,
//   16 products a tile where the direct kernel makes 36. Per position the sum is a matrix
//   product over tiles, dU[pos] (oc x c) += Y[pos] (oc x tiles) V[pos]^T (tiles x c), with
//   V transposed to tile-major so that a register block (8 output channels x 16 input
//   channels with AVX-512's 32 registers, 4 x 16 with 16) broadcasts Y and loads V rows.
//   Each image's products are summed in float registers and added to the thread's dU in
//   double (Winograd's dw is a signed sum of 16 dU values, so float dU over thousands of
//   tiles cost it 6e-4 of relative accuracy at W3's 16 channels, against 1e-4 directly);
//   the threads' dU are added at the end.
// The transforms' factors are 0, +-1 and +-1/2, so the results differ from the direct sums
// only by float rounding (tests: Conv2DWinogradTests).
//
// F(4x4, 3x3): 4x4 output tiles from 6x6 patches, 36 multiplications a tile where F(2x2)
// makes 64 for the same 16 pixels (points 0, +-1, +-2; Lavin and Gray's matrices, below).
// The same product, run loop and backward-filter with 36 positions; the input (and dy) is
// padded into four column phases (padded column 4j + b at phase b, column j) so that a tile
// row's patches are again whole vectors. Forward and backward-data take it wherever it fits,
// backward-filter on images of 49 tiles or more (ck_wino_filter_tile). Its factors reach 8
// (A^T) and 1/24 (G), so its rounding error is about 15 times F(2x2)'s (Conv2DWinogradTests
// states the tolerance).
#include "ckernels.h"
#include "ck_threads_internal.h"
#include "ck_conv2d_winograd_internal.h"
#include "ck_pad_phases.h"
#include "ck_target.h"
#include "ck_vec8.h"

#include <assert.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define CK_WINO_RMAX 6     // tiles of a register block, at most
#define CK_WINO_BLOCK 16   // output channels of a register block (two vectors)

// MARK: - Mode and shape rule

static ck_conv2d_winograd_mode ck_wino_mode = CK_CONV2D_WINOGRAD_AUTO;

void ck_conv2d_set_winograd_mode(ck_conv2d_winograd_mode mode) {
    assert(mode == CK_CONV2D_WINOGRAD_AUTO || mode == CK_CONV2D_WINOGRAD_NEVER || mode == CK_CONV2D_WINOGRAD_ALWAYS);
    ck_wino_mode = mode;
}

ck_conv2d_winograd_mode ck_conv2d_get_winograd_mode(void) { return ck_wino_mode; }

// Output tiles of the three passes: 0 (AUTO, ck_wino_tile and ck_wino_filter_tile), 2 or 4.
static int ck_wino_tile_setting = 0;

void ck_conv2d_set_winograd_tile(int outputs) {
    assert(outputs == 0 || outputs == 2 || outputs == 4);
    ck_wino_tile_setting = outputs;
}

// Where an image's tiles and transform sit (see the top of the file).
typedef struct {
    int m, P;            // output tile side (2 or 4), and its transform's positions (m+2)^2
    int h, w;            // the image, input and output
    int tw, th, tiles;   // tiles a row (ceil(w/m)), rows of tiles (ceil(h/m)), and in all
    int R;               // tiles of a register block
    int ntiles;          // V's row: whole register blocks, and the last row's vector
    size_t vpos;         // floats from one position of V to the next
    int rw;              // a phase's row: tw + 1 floats
    int phase;           // floats from one phase to the next: its rows and a gap
    size_t plane;        // the padded channel, with a tail the last vectors read
    size_t pixels;       // h*w rounded up to whole 8x8 transposes
} ck_wino_layout;

// Tiles a register block: 6 (12 accumulators, as the direct kernel) unless a block of 4 or
// 5 leaves fewer tiles idle at the end of the image (7x7: 16 tiles, 4 blocks of 4 instead of
// 3 of 6 with 2 idle) by more than 3% of them.
static int ck_wino_block_tiles(int tiles) {
    int best = CK_WINO_RMAX, best_idle = (tiles + 5) / 6 * 6 - tiles;
    for (int r = 5; r >= 4; r--) {
        const int idle = (tiles + r - 1) / r * r - tiles;
        if (idle < best_idle && (best_idle - idle) * 32 > tiles) {
            best = r;
            best_idle = idle;
        }
    }
    return best;
}

// Positions of the transform of an m x m output tile.
static int ck_wino_positions(int m) { return (m + 2) * (m + 2); }

// F(4x4)'s padded channel: four column phases, phase b holding padded[r][4j + b] at r*rw + j
// for the 4*th + 2 padded rows the patches read, then a gap for the last vectors.
#define CK_WINO4_GAP 16

static ck_wino_layout ck_wino_layout_of(int h, int w, int cin, int m) {
    ck_wino_layout L;
    L.m = m;
    L.P = ck_wino_positions(m);
    L.h = h;
    L.w = w;
    L.tw = (w + m - 1) / m;
    L.th = (h + m - 1) / m;
    L.tiles = L.th * L.tw;
    L.R = ck_wino_block_tiles(L.tiles);
    L.ntiles = (L.tiles + L.R - 1) / L.R * L.R + 8;
    // 16 floats more than the row: the 16 positions' streams fall on 16 cache sets, not one
    // (W2's 32 x 64 floats are 8 KiB, and 16 streams 8 KiB apart thrash an 8-way L1).
    L.vpos = (size_t)cin * L.ntiles + 16;
    if (m == 2) {
        L.rw = ck_pad_phase_row(w);
        L.phase = (int)ck_pad_phase_floats(h, w);
    } else {
        L.rw = L.tw + 1;
        L.phase = (4 * L.th + 2) * L.rw + CK_WINO4_GAP;
    }
    L.plane = 4 * (size_t)L.phase + 16;
    L.pixels = ((size_t)h * w + 7) / 8 * 8;
    return L;
}

// Per-thread scratch floats: a padded channel, the image's transform V, the P positions of
// a register block, and the output tile and its planes.
static size_t ck_wino_thread_floats(const ck_wino_layout *L) {
    return L->plane + L->P * L->vpos + L->P * (size_t)CK_WINO_RMAX * CK_WINO_BLOCK
           + 2 * (size_t)CK_WINO_BLOCK * L->pixels;
}

// Beyond 4 MiB of scratch a thread, the direct kernel (or the lowering) is taken.
#define CK_WINO_MAX_THREAD_FLOATS ((size_t)1 << 20)

static int ck_wino_geometry(const ck_conv2d_params *p) {
    if (!(p->kh == 3 && p->kw == 3 && p->stride_h == 1 && p->stride_w == 1 && p->pad_h == 1 && p->pad_w == 1
          && p->dil_h == 1 && p->dil_w == 1)) return 0;
    const ck_wino_layout L = ck_wino_layout_of(p->h, p->w, p->c > p->oc ? p->c : p->oc, 2);
    return ck_wino_thread_floats(&L) <= CK_WINO_MAX_THREAD_FLOATS;
}

// The forward's and backward-data's tile for p (the same for both: the scratch is sized for
// the larger channel count). AUTO: F(4x4) wherever its scratch fits. It measured 1.29-1.39x
// F(2x2) at W3's 28x28 and 7x7, 1.02-1.12x at W2's 14x14 and 0.96-1.01x at W3's 14x14,
// where its 4x4 tiles cover 16x16 (docs/performance.md, "Winograd F(4x4, 3x3)").
static int ck_wino_tile(const ck_conv2d_params *p) {
    const ck_wino_layout L4 = ck_wino_layout_of(p->h, p->w, p->c > p->oc ? p->c : p->oc, 4);
    if (ck_wino_thread_floats(&L4) > CK_WINO_MAX_THREAD_FLOATS) return 2;
    return ck_wino_tile_setting != 0 ? ck_wino_tile_setting : 4;
}

int ck_conv2d_winograd_tile(const ck_conv2d_params *p) {
    assert(p != NULL);
    return ck_wino_tile(p);
}

// Backward-filter runs over one image's tiles per pass over its P x oc x c accumulators, so
// F(4x4)'s 36 positions pay only where an image has many tiles: AUTO takes it from 49 4x4
// tiles (W3's 28x28 at 16 channels: 1.38x F(2x2) at 1 thread) and F(2x2) below (at 14x14, 16
// tiles, F(4x4) measured 0.72-0.87x; grouping images into one pass spilled L2 and was slower
// still; docs/performance.md, "Winograd F(4x4, 3x3)").
#define CK_WINO4_FILTER_MIN_TILES 49

static int ck_wino_filter_tile(const ck_conv2d_params *p) {
    const int m = ck_wino_tile(p);
    if (m == 2 || ck_wino_tile_setting == 4) return m;
    return ((p->h + 3) / 4) * ((p->w + 3) / 4) >= CK_WINO4_FILTER_MIN_TILES ? 4 : 2;
}

int ck_conv2d_backward_filter_winograd_tile(const ck_conv2d_params *p) {
    assert(p != NULL);
    return ck_wino_filter_tile(p);
}

// Where Winograd beats the direct kernel, read off measurements (docs/performance.md,
// "Winograd F(2x2, 3x3)"): with at least 8 channels in and out of the pass the transforms
// cost less than the 20 multiplications of 36 a tile they save. Under a direct mode other
// than AUTO (tests and benchmarks of the direct kernel), never.
static int ck_wino_chosen(const ck_conv2d_params *p, int cin, int cout) {
    if (!ck_wino_geometry(p)) return 0;
    switch (ck_wino_mode) {
    case CK_CONV2D_WINOGRAD_NEVER: return 0;
    case CK_CONV2D_WINOGRAD_ALWAYS: return 1;
    default: return ck_conv2d_get_direct_mode() == CK_CONV2D_DIRECT_AUTO && cin >= 8 && cout >= 8;
    }
}

int ck_conv2d_forward_uses_winograd(const ck_conv2d_params *p) {
    assert(p != NULL);
    return ck_wino_chosen(p, p->c, p->oc);
}

int ck_conv2d_backward_data_uses_winograd(const ck_conv2d_params *p) {
    assert(p != NULL);
    return ck_wino_chosen(p, p->oc, p->c);
}

static size_t ck_wino_filter_thread_floats(const ck_conv2d_params *p);

// Backward-filter's product runs over an image's tiles with its accumulators loaded and
// stored once an image: at 7x7 (16 tiles) that and the transforms ate the saving (W3's
// 64->64: 1.00x at 1 thread, 0.95x at 2), so under AUTO it needs 25 tiles (9x9) or more.
#define CK_WINO_FILTER_MIN_TILES 25

int ck_conv2d_backward_filter_uses_winograd(const ck_conv2d_params *p) {
    assert(p != NULL);
    if (!ck_wino_chosen(p, p->c, p->oc) || ck_wino_filter_thread_floats(p) > CK_WINO_MAX_THREAD_FLOATS) return 0;
    return ck_wino_mode == CK_CONV2D_WINOGRAD_ALWAYS || ((p->h + 1) / 2) * ((p->w + 1) / 2) >= CK_WINO_FILTER_MIN_TILES;
}

// MARK: - Filter transform

// Output channels rounded up to whole vectors.
static int ck_wino_padded(int cout) { return (cout + 7) / 8 * 8; }

// G of F(2x2) applied to the lanes of (a, b, c): o[0..4) = (a, (a+b+c)/2, (a-b+c)/2, c).
static inline __attribute__((always_inline)) void ck_wino2_g(float *const o[4], const float *a, const float *b,
                                                             const float *c, int lanes) {
    #pragma omp simd
    for (int j = 0; j < lanes; j++) {
        o[0][j] = a[j];
        o[1][j] = 0.5f * (a[j] + b[j] + c[j]);
        o[2][j] = 0.5f * (a[j] - b[j] + c[j]);
        o[3][j] = c[j];
    }
}

// G of F(4x4): o[0..6) = (a/4, -(a+b+c)/6, -(a-b+c)/6, a/24 + b/12 + c/6, a/24 - b/12 + c/6, c).
static inline __attribute__((always_inline)) void ck_wino4_g(float *const o[6], const float *a, const float *b,
                                                             const float *c, int lanes) {
    #pragma omp simd
    for (int j = 0; j < lanes; j++) {
        const float ac = a[j] + c[j], q = a[j] * (1.0f / 24) + c[j] * (1.0f / 6);
        o[0][j] = 0.25f * a[j];
        o[1][j] = -(ac + b[j]) * (1.0f / 6);
        o[2][j] = -(ac - b[j]) * (1.0f / 6);
        o[3][j] = q + b[j] * (1.0f / 12);
        o[4][j] = q - b[j] * (1.0f / 12);
        o[5][j] = c[j];
    }
}

// U[pos][block][ci][j] = (G g G^T)[pos] for the pass's output channel o = b0 + j and input
// channel ci (0 for lanes past cout), pos = (m+2)*row + column. forward: g = w[o][ci];
// backward-data (cin is w's oc, cout its c): g = w[ci][o] turned 180 degrees. A block's 16
// lanes at once: the filters are gathered lane by lane, then transformed and stored as
// vectors (one filter at a time with scalar stores 16 positions apart was 1% of W3). This
// worker does the (block, ci) pairs [begin, end), block-major.
static CK_MULTIVERSION void ck_wino_transform_filter_range(float *U, const float *w, int cin, int cout, int backward,
                                                           int m, long begin, long end) {
    const int coutp = ck_wino_padded(cout), n = m + 2;
    const size_t per_pos = (size_t)cin * coutp;
    for (long pair = begin; pair < end; pair++) {
        const int b0 = (int)(pair / cin) * CK_WINO_BLOCK, ci = (int)(pair % cin);
        const int lanes = coutp - b0 < CK_WINO_BLOCK ? coutp - b0 : CK_WINO_BLOCK;
        float g[9][CK_WINO_BLOCK];
        for (int j = 0; j < lanes; j++) {
            const int o = b0 + j;
            for (int t = 0; t < 9; t++) {
                g[t][j] = o >= cout ? 0.0f
                          : backward ? w[((size_t)ci * cout + o) * 9 + (8 - t)] : w[((size_t)o * cin + ci) * 9 + t];
            }
        }
        float gg[6][3][CK_WINO_BLOCK];  // G g: gg[i][k] from column k of g
        for (int k = 0; k < 3; k++) {
            float *const o[6] = {gg[0][k], gg[1][k], gg[2][k], gg[3][k], gg[4][k], gg[5][k]};
            if (m == 2) ck_wino2_g(o, g[k], g[3 + k], g[6 + k], lanes);
            else ck_wino4_g(o, g[k], g[3 + k], g[6 + k], lanes);
        }
        float *dst = U + (size_t)b0 * cin + (size_t)ci * lanes;
        for (int i = 0; i < n; i++) {  // (G g) G^T, row i
            float *const o[6] = {dst + (size_t)(n * i) * per_pos, dst + (size_t)(n * i + 1) * per_pos,
                                 dst + (size_t)(n * i + 2) * per_pos, dst + (size_t)(n * i + 3) * per_pos,
                                 m == 2 ? NULL : dst + (size_t)(n * i + 4) * per_pos,
                                 m == 2 ? NULL : dst + (size_t)(n * i + 5) * per_pos};
            if (m == 2) ck_wino2_g(o, gg[i][0], gg[i][1], gg[i][2], lanes);
            else ck_wino4_g(o, gg[i][0], gg[i][1], gg[i][2], lanes);
        }
    }
}

// Below this many (block, ci) pairs the fork and join cost more than the transforms.
#define CK_WINO_FILTER_PARALLEL_MIN 16

// On the team: each pair writes its own part of U (serial, it left the second thread idle
// for 1.7% of W2's step at 2 threads).
static void ck_wino_transform_filter(float *U, const float *w, int cin, int cout, int backward, int m) {
    const long pairs = (long)((ck_wino_padded(cout) + CK_WINO_BLOCK - 1) / CK_WINO_BLOCK) * cin;
    #pragma omp parallel if (pairs >= CK_WINO_FILTER_PARALLEL_MIN) num_threads(ck_region_threads())
    {
        const ck_range r = ck_thread_range(pairs);
        ck_wino_transform_filter_range(U, w, cin, cout, backward, m, r.begin, r.end);
    }
}

// MARK: - Input transform

// Asks for the next channel's plane while this one is padded and transformed: a layer's
// input is usually out of L2 (W3's 16 x 28 x 28 at batch 128 is 6.4 MB), and the padding's
// first loads of each plane stalled (44% of the transform's samples at 16 channels).
static inline __attribute__((always_inline)) void ck_wino_prefetch_plane(const float *plane, size_t floats) {
    for (size_t i = 0; i < floats; i += 16) __builtin_prefetch(plane + i);
}

// The transform of every channel of one image into out[pos][channel][t] (channels
// ntiles apart, positions opos apart), each channel padded into xp and then transformed 8
// tiles of a row at a time (the lanes past the row's end are stored over by the next row, or
// land in the last 8 floats of the channel's row). DY is a constant at each call site:
// - 0: V = B^T d B of tile t's 4x4 patch of x;
// - 1: Y = A dy_t A^T of its 2x2 block of dy. dy is split as x is padded: dy pixel
//   (2ty+i, 2tx+j) is padded pixel (2ty+i+1, 2tx+j+1), so phase ((i+1)%2, (j+1)%2), row
//   ty + (i+1)/2, column tx + (j+1)/2 (zero past the image).
static inline __attribute__((always_inline)) void ck_wino_transform(float *restrict out, size_t opos,
                                                                    float *restrict xp, const float *in,
                                                                    int channels, const ck_wino_layout *L,
                                                                    const int DY) {
    const int rw = L->rw, phase = L->phase, tw = L->tw, th = L->th;
    const size_t hw = (size_t)L->h * L->w;
    for (int ci = 0; ci < channels; ci++) {
        ck_wino_prefetch_plane(in + (size_t)(ci + 1) * hw, ci + 1 < channels ? hw : 0);
        ck_pad_phases(xp, in + (size_t)ci * hw, L->h, L->w, (size_t)phase);
        float *restrict oc = out + (size_t)ci * L->ntiles;
        for (int ty = 0; ty < th; ty++) {
            for (int tx = 0; tx < tw; tx += 8) {
                const int q = ty * rw + tx, t = ty * tw + tx;
                if (DY) {
                    const ck_v8 d00 = ck_v8_load(xp + 3 * (size_t)phase + q);
                    const ck_v8 d01 = ck_v8_load(xp + 2 * (size_t)phase + q + 1);
                    const ck_v8 d10 = ck_v8_load(xp + (size_t)phase + q + rw), d11 = ck_v8_load(xp + q + rw + 1);
                    // A along each row (c0: dy row 0, c1: dy row 1), then down the columns.
                    const ck_v8 c0[4] = {d00, d00 + d01, d00 - d01, -d01};
                    const ck_v8 c1[4] = {d10, d10 + d11, d10 - d11, -d11};
                    for (int b = 0; b < 4; b++) {
                        ck_v8_store(oc + (0 + b) * opos + t, c0[b]);
                        ck_v8_store(oc + (4 + b) * opos + t, c0[b] + c1[b]);
                        ck_v8_store(oc + (8 + b) * opos + t, c0[b] - c1[b]);
                        ck_v8_store(oc + (12 + b) * opos + t, -c1[b]);
                    }
                } else {
                    ck_v8 e[4][4];  // B^T along each patch row's columns: e[r][j]
                    for (int r = 0; r < 4; r++) {
                        const float *row = xp + (size_t)(2 * (r & 1)) * phase + q + (r >> 1) * rw;
                        const ck_v8 d0 = ck_v8_load(row), d1 = ck_v8_load(row + phase);
                        const ck_v8 d2 = ck_v8_load(row + 1), d3 = ck_v8_load(row + phase + 1);
                        e[r][0] = d0 - d2;
                        e[r][1] = d1 + d2;
                        e[r][2] = d2 - d1;
                        e[r][3] = d1 - d3;
                    }
                    for (int j = 0; j < 4; j++) {  // then B^T down the columns
                        ck_v8_store(oc + (0 + j) * opos + t, e[0][j] - e[2][j]);
                        ck_v8_store(oc + (4 + j) * opos + t, e[1][j] + e[2][j]);
                        ck_v8_store(oc + (8 + j) * opos + t, e[2][j] - e[1][j]);
                        ck_v8_store(oc + (12 + j) * opos + t, e[1][j] - e[3][j]);
                    }
                }
            }
        }
    }
}

// One channel x (h, w) into F(4x4)'s four column phases (layout at ck_wino_layout_of): every
// float of the phases' rows is written (zero off the image); the gaps after them are zeroed
// once by the caller and never written. An image row is de-interleaved 32 floats at a time
// wherever 32 floats from there lie in the channel (as ck_pad_phases does 16): lanes past the
// row's end land in the next padded row (written after) or on padded columns past the image
// (zeroed after).
static inline __attribute__((always_inline)) void ck_wino4_pad(float *restrict xp, const float *restrict x,
                                                               const ck_wino_layout *L) {
    const int rw = L->rw, h = L->h, w = L->w, rows = 4 * L->th + 2;
    const size_t phase = (size_t)L->phase, hw = (size_t)h * w;
    for (int r = 0; r < rows; r++) {
        float *restrict out = xp + (size_t)r * rw;
        const int iy = r - 1;
        if (iy < 0 || iy >= h) {
            for (int b = 0; b < 4; b++) memset(out + b * phase, 0, sizeof(float) * (size_t)rw);
            continue;
        }
        const float *restrict row = x + (size_t)iy * w;
        int k = 0;
        for (; k < w && (size_t)iy * w + k + 32 <= hw; k += 32) {
            const ck_v8 a = ck_v8_load(row + k), b = ck_v8_load(row + k + 8);
            const ck_v8 c = ck_v8_load(row + k + 16), d = ck_v8_load(row + k + 24);
            const ck_v8 e0 = __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14);
            const ck_v8 o0 = __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15);
            const ck_v8 e1 = __builtin_shufflevector(c, d, 0, 2, 4, 6, 8, 10, 12, 14);
            const ck_v8 o1 = __builtin_shufflevector(c, d, 1, 3, 5, 7, 9, 11, 13, 15);
            // x column k + 4i + s is padded column k + 4i + s + 1: phases 1, 2, 3 at k/4 + i
            // for s = 0, 1, 2, and phase 0 at k/4 + i + 1 for s = 3.
            ck_v8_store(out + phase + k / 4, __builtin_shufflevector(e0, e1, 0, 2, 4, 6, 8, 10, 12, 14));
            ck_v8_store(out + 2 * phase + k / 4, __builtin_shufflevector(o0, o1, 0, 2, 4, 6, 8, 10, 12, 14));
            ck_v8_store(out + 3 * phase + k / 4, __builtin_shufflevector(e0, e1, 1, 3, 5, 7, 9, 11, 13, 15));
            ck_v8_store(out + k / 4 + 1, __builtin_shufflevector(o0, o1, 1, 3, 5, 7, 9, 11, 13, 15));
        }
        // Scalar (the channel's last rows): no AVX-512 scatters (microcoded on AMD;
        // ck_conv2d_direct.c).
        #pragma clang loop vectorize(disable)
        for (; k < w; k++) out[(size_t)((k + 1) & 3) * phase + (size_t)((k + 1) >> 2)] = row[k];
        // The left padding and the padded columns past the image, up to the phases' row end.
        out[0] = 0.0f;
        #pragma clang loop vectorize(disable)
        for (int col = w + 1; col < 4 * rw; col++) out[(size_t)(col & 3) * phase + (size_t)(col >> 2)] = 0.0f;
    }
}

// B^T of F(4x4) on six vectors: t = B^T d with B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0;
// 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1].
static inline __attribute__((always_inline)) void ck_wino4_bt(ck_v8 t[6], const ck_v8 d[6]) {
    const ck_v8 d42 = d[4] - d[2], d31 = d[3] - d[1];
    t[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
    t[1] = (d[3] + d[4]) - 4.0f * (d[1] + d[2]);
    t[2] = (d[4] - d[3]) + 4.0f * (d[1] - d[2]);
    t[3] = d42 + 2.0f * d31;
    t[4] = d42 - 2.0f * d31;
    t[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}

// A of F(4x4) (A^T's transpose) on four vectors: c = A d, six rows.
static inline __attribute__((always_inline)) void ck_wino4_a(ck_v8 c[6], const ck_v8 d[4]) {
    const ck_v8 e = d[0] + d[2], o = d[1] + d[3], e4 = d[0] + 4.0f * d[2], o8 = 2.0f * d[1] + 8.0f * d[3];
    c[0] = d[0];
    c[1] = e + o;
    c[2] = e - o;
    c[3] = e4 + o8;
    c[4] = e4 - o8;
    c[5] = d[3];
}

// ck_wino_transform for F(4x4): each channel padded into its column phases
// (ck_wino4_pad), then 8 tiles of a tile row at a time (lanes past the row's end as there).
// DY is a constant at each call site:
// - 0: V = B^T d B of tile (ty, tx)'s 6x6 patch of x, whose element (r, s) is phase s % 4,
//   row 4ty + r, column tx + s / 4;
// - 1: Y = A dy_t A^T of its 4x4 block of dy, padded as x is: dy pixel (4ty + i, 4tx + j) is
//   padded row 4ty + i + 1, phase (j + 1) % 4, column tx + (j + 1) / 4 (zero past the image).
static inline __attribute__((always_inline)) void ck_wino4_transform(float *restrict out, size_t opos,
                                                                     float *restrict xp, const float *in,
                                                                     int channels, const ck_wino_layout *L,
                                                                     const int DY) {
    const int rw = L->rw, tw = L->tw, th = L->th;
    const size_t phase = (size_t)L->phase, hw = (size_t)L->h * L->w;
    for (int ci = 0; ci < channels; ci++) {
        ck_wino_prefetch_plane(in + (size_t)(ci + 1) * hw, ci + 1 < channels ? hw : 0);
        ck_wino4_pad(xp, in + (size_t)ci * hw, L);
        float *restrict oc = out + (size_t)ci * L->ntiles;
        for (int ty = 0; ty < th; ty++) {
            for (int tx = 0; tx < tw; tx += 8) {
                const int t = ty * tw + tx;
                if (DY) {
                    ck_v8 c[4][6];  // A along each dy row: c[i][b]
                    for (int i = 0; i < 4; i++) {
                        const float *row = xp + (size_t)(4 * ty + i + 1) * rw + tx;
                        const ck_v8 d[4] = {ck_v8_load(row + phase), ck_v8_load(row + 2 * phase),
                                            ck_v8_load(row + 3 * phase), ck_v8_load(row + 1)};
                        ck_wino4_a(c[i], d);
                    }
                    for (int b = 0; b < 6; b++) {  // then down the columns
                        const ck_v8 col[4] = {c[0][b], c[1][b], c[2][b], c[3][b]};
                        ck_v8 o[6];
                        ck_wino4_a(o, col);
                        for (int a = 0; a < 6; a++) ck_v8_store(oc + (size_t)(6 * a + b) * opos + t, o[a]);
                    }
                } else {
                    ck_v8 e[6][6];  // B^T along each patch row: e[r][j]
                    for (int r = 0; r < 6; r++) {
                        const float *row = xp + (size_t)(4 * ty + r) * rw + tx;
                        const ck_v8 d[6] = {ck_v8_load(row), ck_v8_load(row + phase), ck_v8_load(row + 2 * phase),
                                            ck_v8_load(row + 3 * phase), ck_v8_load(row + 1),
                                            ck_v8_load(row + phase + 1)};
                        ck_wino4_bt(e[r], d);
                    }
                    for (int j = 0; j < 6; j++) {  // then B^T down the columns
                        const ck_v8 col[6] = {e[0][j], e[1][j], e[2][j], e[3][j], e[4][j], e[5][j]};
                        ck_v8 o[6];
                        ck_wino4_bt(o, col);
                        for (int i = 0; i < 6; i++) ck_v8_store(oc + (size_t)(6 * i + j) * opos + t, o[i]);
                    }
                }
            }
        }
    }
}

// V[pos][ci][t] = (B^T d B)[pos] for every channel of one image x (positions L->vpos apart).
static CK_MULTIVERSION void ck_wino_transform_image(float *restrict V, float *restrict xp, const float *x, int cin,
                                                    const ck_wino_layout *L) {
    if (L->m == 2) ck_wino_transform(V, L->vpos, xp, x, cin, L, 0);
    else ck_wino4_transform(V, L->vpos, xp, x, cin, L, 0);
}

// MARK: - Product and output transform

// m[p][0..8V) = sum over ci of v[ci*ntiles + p] * u[ci][0..8V), for the R tiles of a
// register block at one position; V (1 or 2) and R are constants at each call site.
static inline __attribute__((always_inline)) void ck_wino_block(float *restrict m, const float *restrict v,
                                                                const float *restrict u, int cin, int ntiles,
                                                                const int V, const int R) {
    ck_v8 acc[CK_WINO_RMAX][2];
    for (int p = 0; p < R; p++) acc[p][0] = acc[p][1] = (ck_v8){0};
    for (int ci = 0; ci < cin; ci++) {
        const float *xr = v + (size_t)ci * ntiles;
        const ck_v8 u0 = ck_v8_load(u + ci * 8 * V);
        if (V == 2) {
            const ck_v8 u1 = ck_v8_load(u + ci * 16 + 8);
            for (int p = 0; p < R; p++) {
                const float s = xr[p];
                acc[p][0] += s * u0;
                acc[p][1] += s * u1;
            }
        } else {
            for (int p = 0; p < R; p++) acc[p][0] += xr[p] * u0;
        }
    }
    for (int p = 0; p < R; p++) {
        ck_v8_store(m + p * 8 * V, acc[p][0]);
        if (V == 2) ck_v8_store(m + p * 8 * V + 8, acc[p][1]);
    }
}

// The P positions of one register block (R tiles from t0), for V and R as constants.
#define CK_WINO_POSITIONS(V, R)                                                                  \
    for (int pos = 0; pos < P; pos++) {                                                          \
        ck_wino_block(m0 + pos * mpos, V0 + pos * vpos + t0, ub + pos * per_pos, cin, ntiles, V, R); \
    }

// The output transform of one tile's 8 lanes: the tile's positions are mpos floats apart
// from mp, and its pixels go to t (pixel (i, j) at (i*w + j)*lanes, bias added) while i < rows
// and j < cols (the tiles past the image's last row or column are partly outside it).
// F(2x2): A^T = [1 1 1 0; 0 1 -1 -1].
static inline __attribute__((always_inline)) void ck_wino2_output(float *t, const float *mp, size_t mpos,
                                                                  const float *bias, int rows, int cols, int w,
                                                                  int lanes) {
    ck_v8 s0[4], s1[4];  // A^T applied down each column: rows 0 and 1 of the tile
    for (int j = 0; j < 4; j++) {
        const float *mj = mp + (size_t)j * mpos;
        const ck_v8 m0 = ck_v8_load(mj), m1 = ck_v8_load(mj + 4 * mpos);
        const ck_v8 m2 = ck_v8_load(mj + 8 * mpos), m3 = ck_v8_load(mj + 12 * mpos);
        s0[j] = m0 + m1 + m2;
        s1[j] = m1 - m2 - m3;
    }
    const ck_v8 b = ck_v8_load(bias);
    ck_v8_store(t, s0[0] + s0[1] + s0[2] + b);
    if (cols > 1) ck_v8_store(t + lanes, s0[1] - s0[2] - s0[3] + b);
    if (rows > 1) {
        ck_v8_store(t + (size_t)w * lanes, s1[0] + s1[1] + s1[2] + b);
        if (cols > 1) ck_v8_store(t + ((size_t)w + 1) * lanes, s1[1] - s1[2] - s1[3] + b);
    }
}

// A^T of F(4x4) on six vectors: o = A^T v with A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0;
// 0 1 1 4 4 0; 0 1 -1 8 -8 1].
static inline __attribute__((always_inline)) void ck_wino4_at(ck_v8 o[4], const ck_v8 v[6]) {
    const ck_v8 a = v[1] + v[2], b = v[1] - v[2], c = v[3] + v[4], d = v[3] - v[4];
    o[0] = v[0] + a + c;
    o[1] = b + 2.0f * d;
    o[2] = a + 4.0f * c;
    o[3] = b + 8.0f * d + v[5];
}

// F(4x4): as ck_wino2_output, A^T M A into a 4x4 tile.
static inline __attribute__((always_inline)) void ck_wino4_output(float *t, const float *mp, size_t mpos,
                                                                  const float *bias, int rows, int cols, int w,
                                                                  int lanes) {
    ck_v8 s[4][6];  // A^T down each column: s[i][j]
    for (int j = 0; j < 6; j++) {
        const float *mj = mp + (size_t)j * mpos;
        const ck_v8 col[6] = {ck_v8_load(mj), ck_v8_load(mj + 6 * mpos), ck_v8_load(mj + 12 * mpos),
                              ck_v8_load(mj + 18 * mpos), ck_v8_load(mj + 24 * mpos), ck_v8_load(mj + 30 * mpos)};
        ck_v8 o[4];
        ck_wino4_at(o, col);
        for (int i = 0; i < 4; i++) s[i][j] = o[i];
    }
    const ck_v8 b = ck_v8_load(bias);
    for (int i = 0; i < 4 && i < rows; i++) {
        ck_v8 o[4];
        ck_wino4_at(o, s[i]);
        float *ti = t + (size_t)i * w * lanes;
        for (int j = 0; j < 4 && j < cols; j++) ck_v8_store(ti + (size_t)j * lanes, o[j] + b);
    }
}

// One (image, channel block): y planes [b0, b0 + valid) of one image from its transform V0,
// written or added per accumulate. ub is the block's U at position 0 (positions per_pos
// apart), bias the block's padded bias.
static CK_MULTIVERSION void ck_wino_image_block(float *restrict y, const float *restrict V0, const float *restrict ub,
                                                const float *restrict bias, int cin, size_t per_pos,
                                                const ck_wino_layout *L, int lanes, int valid, int accumulate,
                                                float *restrict mscratch, float *restrict tile,
                                                float *restrict planes) {
    const int h = L->h, w = L->w, tw = L->tw, ntiles = L->ntiles, R = L->R, m = L->m, P = L->P;
    const size_t hw = (size_t)h * w, vpos = L->vpos;
    const size_t mpos = (size_t)R * lanes;
    float *restrict m0 = mscratch;
    for (int t0 = 0; t0 < L->tiles; t0 += R) {
        if (lanes == 16) {
            if (R == 6) CK_WINO_POSITIONS(2, 6) else if (R == 5) CK_WINO_POSITIONS(2, 5) else CK_WINO_POSITIONS(2, 4)
        } else {
            if (R == 6) CK_WINO_POSITIONS(1, 6) else if (R == 5) CK_WINO_POSITIONS(1, 5) else CK_WINO_POSITIONS(1, 4)
        }
        for (int p = 0; p < R && t0 + p < L->tiles; p++) {
            const int oy = m * ((t0 + p) / tw), ox = m * ((t0 + p) % tw);
            for (int k = 0; k < lanes; k += 8) {
                const float *mp = m0 + p * lanes + k;
                float *t = tile + ((size_t)oy * w + ox) * lanes + k;
                if (m == 2) ck_wino2_output(t, mp, mpos, bias + k, h - oy, w - ox, w, lanes);
                else ck_wino4_output(t, mp, mpos, bias + k, h - oy, w - ox, w, lanes);
            }
        }
    }
    // Straight into y where its planes have the scratch's layout (whole 8-pixel groups, every
    // lane an output channel) and nothing is added: W3's 28x28 layers skip a copy of the output.
    if (!accumulate && L->pixels == hw && valid == lanes) {
        ck_tile_to_planes(y, tile, (int)hw, lanes, (int)L->pixels);
        return;
    }
    ck_tile_to_planes(planes, tile, (int)hw, lanes, (int)L->pixels);
    for (int j = 0; j < valid; j++) {
        const float *restrict src = planes + (size_t)j * L->pixels;
        float *restrict dst = y + (size_t)j * hw;
        if (accumulate) {
            for (size_t i = 0; i < hw; i++) dst[i] += src[i];
        } else {
            memcpy(dst, src, sizeof(float) * hw);
        }
    }
}
#undef CK_WINO_POSITIONS

// y (n, cout, h, w) (=, or += with accumulate) = the convolution of x (n, cin, h, w) with
// the transformed filter U and padded bias. Threads own (image, channel block) pairs and
// transform an image when their next pair is of another one. Returns 0 (nothing written)
// if the scratch cannot be allocated.
static int ck_wino_run(float *y, const float *x, const float *U, const float *bias, int n, int cin, int cout, int h,
                       int w, int accumulate, int m) {
    const ck_wino_layout L = ck_wino_layout_of(h, w, cin, m);
    const int coutp = ck_wino_padded(cout);
    const int blocks = (coutp + CK_WINO_BLOCK - 1) / CK_WINO_BLOCK, pairs = n * blocks;
    const size_t per_thread = ck_wino_thread_floats(&L), per_pos = (size_t)cin * coutp;
    const int all = ck_region_threads(), threads = all < pairs ? all : pairs;
    float *scratch = malloc((size_t)threads * per_thread * sizeof(float));
    if (scratch == NULL) return 0;
    const size_t hw = (size_t)h * w, in_image = (size_t)cin * hw, out_image = (size_t)cout * hw;
    #pragma omp parallel num_threads(threads)
    {
        float *xp = scratch + (size_t)omp_get_thread_num() * per_thread;
        float *V = xp + L.plane, *ms = V + L.P * L.vpos;
        float *tile = ms + L.P * (size_t)CK_WINO_RMAX * CK_WINO_BLOCK, *planes = tile + (size_t)CK_WINO_BLOCK * L.pixels;
        // Zero once what the vectors read past the image and nothing else writes (no NaN or
        // denormal from uninitialized memory in the idle lanes): the padded channel (its
        // phases' rows are rewritten for each channel, the gaps and the tail never), and each
        // row of V from its last tile on (the rest is written per image).
        memset(xp, 0, sizeof(float) * L.plane);
        for (size_t r = 0; r < (size_t)L.P * cin; r++) {
            memset(V + r / cin * L.vpos + r % cin * L.ntiles + L.tiles, 0, sizeof(float) * (L.ntiles - L.tiles));
        }
        int transformed = -1;  // the image V holds
        #pragma omp for schedule(static)
        for (int i = 0; i < pairs; i++) {
            const int img = i / blocks, b0 = (i % blocks) * CK_WINO_BLOCK;
            if (img != transformed) {
                ck_wino_transform_image(V, xp, x + (size_t)img * in_image, cin, &L);
                transformed = img;
            }
            const int lanes = coutp - b0 < CK_WINO_BLOCK ? coutp - b0 : CK_WINO_BLOCK;
            const int valid = cout - b0 < lanes ? cout - b0 : lanes;
            ck_wino_image_block(y + (size_t)img * out_image + (size_t)b0 * hw, V, U + (size_t)b0 * cin, bias + b0,
                                cin, per_pos, &L, lanes, valid, accumulate, ms, tile, planes);
        }
    }
    free(scratch);
    return 1;
}

// MARK: - Passes

// The transformed filter (P * cin * coutp), then the padded bias (coutp).
static size_t ck_wino_pass_floats(int cin, int cout, int m) {
    return (ck_wino_positions(m) * (size_t)cin + 1) * ck_wino_padded(cout);
}

static void ck_wino_pack(float *packed, const float *w, const float *bias, int cin, int cout, int backward, int m) {
    const int coutp = ck_wino_padded(cout);
    float *bp = packed + ck_wino_positions(m) * (size_t)cin * coutp;
    ck_wino_transform_filter(packed, w, cin, cout, backward, m);
    for (int o = 0; o < coutp; o++) bp[o] = bias != NULL && o < cout ? bias[o] : 0.0f;
}

// Packs the filter into an allocation of the call's own, runs, frees. Returns 0 (nothing
// written) if an allocation fails.
static int ck_wino_pass(float *y, const float *x, const float *w, const float *bias, int n, int cin, int cout, int h,
                        int wd, int backward, int accumulate, int m) {
    float *packed = malloc(ck_wino_pass_floats(cin, cout, m) * sizeof(float));
    if (packed == NULL) return 0;
    ck_wino_pack(packed, w, bias, cin, cout, backward, m);
    const int done = ck_wino_run(y, x, packed, packed + ck_wino_positions(m) * (size_t)cin * ck_wino_padded(cout), n,
                                 cin, cout, h, wd, accumulate, m);
    free(packed);
    return done;
}

int ck_conv2d_winograd_forward(float *y, const float *x, const float *w, const float *bias,
                               const ck_conv2d_params *p) {
    assert(ck_wino_geometry(p));
    return ck_wino_pass(y, x, w, bias, p->n, p->c, p->oc, p->h, p->w, 0, 0, ck_wino_tile(p));
}

int ck_conv2d_winograd_backward_data(float *dx, const float *dy, const float *w, const ck_conv2d_params *p,
                                     int accumulate) {
    assert(ck_wino_geometry(p));
    return ck_wino_pass(dx, dy, w, NULL, p->n, p->oc, p->c, p->h, p->w, 1, accumulate, ck_wino_tile(p));
}

// MARK: - Pre-packed forward (inference)

size_t ck_conv2d_winograd_packed_floats(const ck_conv2d_params *p) {
    return p->kh == 3 && p->kw == 3 && p->stride_h == 1 && p->stride_w == 1 && p->pad_h == 1 && p->pad_w == 1
                   && p->dil_h == 1 && p->dil_w == 1
               ? ck_wino_pass_floats(p->c, p->oc, ck_wino_tile(p))
               : 0;
}

void ck_conv2d_winograd_pack_forward(float *packed, const float *w, const float *bias, const ck_conv2d_params *p) {
    assert(ck_conv2d_winograd_packed_floats(p) > 0);
    ck_wino_pack(packed, w, bias, p->c, p->oc, 0, ck_wino_tile(p));
}

int ck_conv2d_winograd_forward_packed(float *y, const float *x, const float *packed, const ck_conv2d_params *p) {
    assert(ck_wino_geometry(p));
    const int m = ck_wino_tile(p);
    return ck_wino_run(y, x, packed, packed + ck_wino_positions(m) * (size_t)p->c * ck_wino_padded(p->oc), p->n, p->c,
                       p->oc, p->h, p->w, 0, m);
}

// MARK: - Backward-filter

// Output channels of backward-filter's register block: 8 where the vector registers are 32
// (AVX-512: 16 accumulators, 2 row loads, a broadcast), 4 where they are 16.
static int ck_wino_filter_rows(void) {
#if CK_X86
    return __builtin_cpu_supports("avx512f") ? 8 : 4;
#else
    return 4;
#endif
}

// Backward-filter's per-thread arrays, in floats: the padded channel and V as the forward
// has them (for cinp channels), V transposed tile-major (vt), dy's transform Y (coutr rows
// of ntiles), the partial dU (P x coutr x cinp doubles), and the bias sums (coutr doubles).
typedef struct {
    ck_wino_layout L;
    int cinp;            // input channels rounded up to whole 8x8 transposes
    int coutr;           // output channels rounded up to whole register blocks
    int rows;            // output channels of a register block
    size_t vt, y, du, bsum, total;  // offsets from the thread's scratch, and its size
} ck_wino_filter_layout;

static ck_wino_filter_layout ck_wino_filter_layout_of(const ck_conv2d_params *p) {
    ck_wino_filter_layout F;
    F.cinp = (p->c + 7) / 8 * 8;
    F.rows = ck_wino_filter_rows();
    F.coutr = (p->oc + F.rows - 1) / F.rows * F.rows;
    F.L = ck_wino_layout_of(p->h, p->w, F.cinp, ck_wino_filter_tile(p));
    const size_t P = (size_t)F.L.P, tiles8 = ((size_t)F.L.tiles + 7) / 8 * 8;
    F.vt = F.L.plane + P * F.L.vpos;
    F.y = F.vt + P * tiles8 * F.cinp;
    F.du = (F.y + P * (size_t)F.coutr * F.L.ntiles + 16 + 1) / 2 * 2;  // 8-byte aligned for the doubles
    F.bsum = F.du + 2 * P * (size_t)F.coutr * F.cinp;
    F.total = F.bsum + 2 * (size_t)F.coutr;
    return F;
}

static size_t ck_wino_filter_thread_floats(const ck_conv2d_params *p) {
    return ck_wino_filter_layout_of(p).total;
}

// Y[pos][o][t] = (A dy_t A^T)[pos] for every channel of one image's dy (positions ypos apart).
static CK_MULTIVERSION void ck_wino_transform_dy(float *restrict Y, float *restrict xp, const float *dy, int cout,
                                                 size_t ypos, const ck_wino_layout *L) {
    if (L->m == 2) ck_wino_transform(Y, ypos, xp, dy, cout, L, 1);
    else ck_wino4_transform(Y, ypos, xp, dy, cout, L, 1);
}

typedef double ck_v8d __attribute__((vector_size(64)));
typedef double ck_v8du __attribute__((vector_size(64), aligned(8), may_alias));

// du[r][0..8V) += sum over t < tiles of y[r*yrow + t] * vt[t*cinp + 0..8V), for the R output
// channels of a register block, summed in float and added in double; R and V are constants
// at each call site.
static inline __attribute__((always_inline)) void ck_wino_filter_block(double *restrict du, int cinp,
                                                                       const float *restrict y, int yrow,
                                                                       const float *restrict vt, int tiles,
                                                                       const int R, const int V) {
    ck_v8 acc[8][2];
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = (ck_v8){0};
    for (int t = 0; t < tiles; t++) {
        const ck_v8 v0 = ck_v8_load(vt + (size_t)t * cinp);
        const ck_v8 v1 = V == 2 ? ck_v8_load(vt + (size_t)t * cinp + 8) : v0;
        for (int r = 0; r < R; r++) {
            const float s = y[(size_t)r * yrow + t];
            acc[r][0] += s * v0;
            if (V == 2) acc[r][1] += s * v1;
        }
    }
    for (int r = 0; r < R; r++) {
        for (int v = 0; v < V; v++) {
            ck_v8du *d = (ck_v8du *)(du + (size_t)r * cinp + 8 * v);
            *d = (ck_v8d)*d + __builtin_convertvector(acc[r][v], ck_v8d);
        }
    }
}

// One image's share of backward-filter: x's transform (V, then transposed to vt), dy's (Y),
// and dU[pos] += Y[pos] V[pos]^T; with bsum, dbias's sums too.
static CK_MULTIVERSION void ck_wino_filter_image(float *restrict scratch, const ck_wino_filter_layout *F,
                                                 const float *x, const float *dy, int cin, int cout,
                                                 double *restrict bsum) {
    const ck_wino_layout *L = &F->L;
    const int cinp = F->cinp, tiles = L->tiles, rows = F->rows, ntiles = L->ntiles, P = L->P;
    const size_t tiles8 = ((size_t)tiles + 7) / 8 * 8, hw = (size_t)L->h * L->w;
    float *xp = scratch, *V = scratch + L->plane, *vt = scratch + F->vt, *Y = scratch + F->y;
    double *du = (double *)(scratch + F->du);
    const size_t ypos = (size_t)F->coutr * ntiles;
    ck_wino_transform_image(V, xp, x, cin, L);
    ck_wino_transform_dy(Y, xp, dy, cout, ypos, L);
    // V[pos][c][t] to vt[pos][t][c] by 8x8 transposes (rows past cin are zero; columns past
    // the last tile are read and never used).
    for (int pos = 0; pos < P; pos++) {
        const float *vp = V + pos * L->vpos;
        float *tp = vt + pos * tiles8 * cinp;
        for (size_t t8 = 0; t8 < (size_t)tiles; t8 += 8) {
            for (int c8 = 0; c8 < cinp; c8 += 8) {
                ck_v8 r[8];
                for (int i = 0; i < 8; i++) r[i] = ck_v8_load(vp + (size_t)(c8 + i) * ntiles + t8);
                ck_v8_transpose(r);
                for (int j = 0; j < 8; j++) ck_v8_store(tp + (t8 + j) * cinp + c8, r[j]);
            }
        }
    }
    for (int pos = 0; pos < P; pos++) {
        const float *yp = Y + pos * ypos, *tp = vt + pos * tiles8 * cinp;
        double *dp = du + (size_t)pos * F->coutr * cinp;
        for (int o0 = 0; o0 < F->coutr; o0 += rows) {
            for (int c0 = 0; c0 < cinp; c0 += 16) {
                double *d = dp + (size_t)o0 * cinp + c0;
                const float *y = yp + (size_t)o0 * ntiles, *v = tp + c0;
                if (rows == 8) {
                    if (cinp - c0 >= 16) ck_wino_filter_block(d, cinp, y, ntiles, v, tiles, 8, 2);
                    else ck_wino_filter_block(d, cinp, y, ntiles, v, tiles, 8, 1);
                } else {
                    if (cinp - c0 >= 16) ck_wino_filter_block(d, cinp, y, ntiles, v, tiles, 4, 2);
                    else ck_wino_filter_block(d, cinp, y, ntiles, v, tiles, 4, 1);
                }
            }
        }
    }
    if (bsum != NULL) {
        for (int o = 0; o < cout; o++) {
            const float *plane = dy + (size_t)o * hw;
            double sum = 0.0;
            #pragma omp simd reduction(+ : sum)
            for (size_t i = 0; i < hw; i++) sum += plane[i];
            bsum[o] += sum;
        }
    }
}

// G^T of F(2x2) on one column u of dU, in double: (u0 + (u1+u2)/2, (u1-u2)/2, (u1+u2)/2 + u3).
static inline void ck_wino2_gt(double g[3], const double *u, int stride) {
    g[0] = u[0] + 0.5 * (u[stride] + u[2 * stride]);
    g[1] = 0.5 * (u[stride] - u[2 * stride]);
    g[2] = 0.5 * (u[stride] + u[2 * stride]) + u[3 * stride];
}

// G^T of F(4x4): (u0/4 - (u1+u2)/6 + (u3+u4)/24, (u2-u1)/6 + (u3-u4)/12, (u3+u4-u1-u2)/6 + u5).
static inline void ck_wino4_gt(double g[3], const double *u, int stride) {
    const double s12 = u[stride] + u[2 * stride], s34 = u[3 * stride] + u[4 * stride];
    g[0] = 0.25 * u[0] - s12 / 6 + s34 / 24;
    g[1] = (u[2 * stride] - u[stride]) / 6 + (u[3 * stride] - u[4 * stride]) / 12;
    g[2] = (s34 - s12) / 6 + u[5 * stride];
}

// dw[o][c] += G^T dU G for output channel o, dU summed over the threads' partial sums (in
// the same order whichever thread runs it).
static void ck_wino_filter_finish(float *dw, const float *scratch, size_t per_thread, int threads,
                                  const ck_wino_filter_layout *F, int o, int cin) {
    const int n = F->L.m + 2, P = F->L.P;
    void (*const gt)(double[3], const double *, int) = n == 4 ? ck_wino2_gt : ck_wino4_gt;
    for (int ci = 0; ci < cin; ci++) {
        double u[36];
        for (int pos = 0; pos < P; pos++) {
            double total = 0.0;
            for (int t = 0; t < threads; t++) {
                total += ((const double *)(scratch + (size_t)t * per_thread + F->du))[(size_t)pos * F->coutr * F->cinp
                                                                                     + (size_t)o * F->cinp + ci];
            }
            u[pos] = total;
        }
        double g[3][6];  // G^T dU, column by column
        for (int b = 0; b < n; b++) {
            double col[3];
            gt(col, u + b, n);
            for (int k = 0; k < 3; k++) g[k][b] = col[k];
        }
        float *dwc = dw + ((size_t)o * cin + ci) * 9;
        for (int k = 0; k < 3; k++) {  // then G on the right, row by row
            double row[3];
            gt(row, g[k], 1);
            for (int l = 0; l < 3; l++) dwc[3 * k + l] += (float)row[l];
        }
    }
}

int ck_conv2d_winograd_backward_filter(float *dw, float *dbias, const float *dy, const float *x,
                                       const ck_conv2d_params *p) {
    assert(ck_wino_geometry(p));
    const ck_wino_filter_layout F = ck_wino_filter_layout_of(p);
    const int cin = p->c, cout = p->oc;
    const size_t hw = (size_t)p->h * p->w, per_thread = F.total;
    const int all = ck_region_threads(), threads = all < p->n ? all : p->n;
    float *scratch = malloc((size_t)threads * per_thread * sizeof(float));
    if (scratch == NULL) return 0;
    #pragma omp parallel num_threads(threads)
    {
        float *mine = scratch + (size_t)omp_get_thread_num() * per_thread;
        // Zero once: V's and Y's rows past cin and cout, the gaps the vectors read, dU, the sums.
        memset(mine, 0, sizeof(float) * per_thread);
        #pragma omp for schedule(static)
        for (int img = 0; img < p->n; img++) {
            ck_wino_filter_image(mine, &F, x + (size_t)img * cin * hw, dy + (size_t)img * cout * hw, cin, cout,
                                 dbias != NULL ? (double *)(mine + F.bsum) : NULL);
        }
        // After the loop's barrier, dw's rows on the team (serial, this was 1.2% of W2's
        // samples at 2 threads, with the other thread waiting).
        #pragma omp for schedule(static)
        for (int o = 0; o < cout; o++) ck_wino_filter_finish(dw, scratch, per_thread, threads, &F, o, cin);
    }
    if (dbias != NULL) {
        for (int o = 0; o < cout; o++) {
            double total = 0.0;
            for (int t = 0; t < threads; t++) total += ((const double *)(scratch + (size_t)t * per_thread + F.bsum))[o];
            dbias[o] += (float)total;
        }
    }
    free(scratch);
    return 1;
}
