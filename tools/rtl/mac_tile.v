// mac_tile.v -- RTL model of the arithmetic of ONE MAC-array tile of the
// refimpl engine (bit-exact against refimpl's golden tiles; see
// refimpl/fixedpoint.py for the numeric contract it implements).
//
// One tile: M output channels x (OUT_ROWS x OUT_COLS) output pixels, reducing
// over TK input channels x K x K kernel taps of an already zero-padded input
// patch (TK x IN_ROWS x IN_COLS).  For every output (m, oy, ox):
//
//   FIRST_CHUNK: acc = fit(round_shift(bias[m], -bias_shift[m], ROUNDING))
//                (bias_shift >= 0: bias << bias_shift, exact)
//   else:        acc = psum_in[m][oy][ox]     (the previous chunk's psums, in range)
//   for c < TK, ky < K, kx < K  (this order):
//       acc = fit(acc + in[c][oy*STRIDE+ky][ox*STRIDE+kx] * w[m][c][ky][kx])
//   the tile writes acc (ACC_BITS): its psums, which a later chunk starts from
//   LAST_CHUNK:  y = sat16(round_shift(acc, shift[m], ROUNDING)); if (RELU) y = max(y, 0)
//                the tile also writes y (int16): its outputs
//
// fit() applies the overflow policy to an ACC_BITS-bit two's complement
// accumulator after EVERY addition (refimpl fixedpoint.acc_add):
//   OVERFLOW 0 saturate: clamp to [-2^(ACC_BITS-1), 2^(ACC_BITS-1) - 1]
//            1 wrap:     keep the low ACC_BITS bits (an adder without overflow logic)
//            2 error:    clamp, and the testbench fails if any output overflowed
// and counts the outputs whose accumulation overflowed at least once (ovf_count).
//
// round_shift(x, s, mode) is refimpl fixedpoint.round_shift: s > 0 drops s bits,
//   ROUNDING 0 half_up:   (x + 2^(s-1)) >>> s                     ties towards +inf
//            1 half_even: x >>> s, plus 1 when the dropped bits exceed one half,
//                         or equal one half and the kept LSB is odd   ties to even
//            2 truncate:  x >>> s                                 floor
//   s == 0: x;  s < 0: x <<< -s (exact).
// The shifts are per lane (ports shift_data, bias_shift_data: signed 8-bit per
// lane), so per-channel weight formats need nothing else.
//
// Deliberate bugs, to prove that the co-simulation catches mismatches:
//   +define+FAULT           the requantizer rounds with the wrong mode (half_up ->
//                           truncate; half_even, truncate -> half_up: on half_even
//                           data exactly the outputs with a tie differ)
//   +define+FAULT_OVERFLOW  the accumulator uses the wrong overflow policy
//                           (saturate, error -> wrap; wrap -> saturate)
//
// Micro-architecture: output-channel parallel.  M lanes each hold one
// accumulator; one input word is broadcast to all lanes and each lane gets its
// own weight, so one (c, ky, kx) tap of one pixel is done per clock on all M
// channels.  Per pixel: 1 LOAD cycle (bias or psum in), TK*K*K MAC cycles,
// 1 OUT cycle (requantize, write outputs and psums).  Memories are outside
// the module and read asynchronously (address out, data back in the same cycle).
//
// Ports:
//   clk, rst (synchronous, active high), start (pulse while idle), busy, done
//   (one-cycle pulse together with the last out_valid).
//   in_addr  -> in_data  : patch word [c][row][col], address (c*IN_ROWS+row)*IN_COLS+col
//   w_addr   -> w_data   : tap (c*K+ky)*K+kx; lane m's weight at w_data[16*m +: 16]
//   bias_data            : lane m's bias at bias_data[BIAS_BITS*m +: BIAS_BITS], sampled each LOAD (FIRST_CHUNK)
//   pix_addr -> psum_in_data : pixel oy*OUT_COLS+ox; lane m's psum at psum_in_data[ACC_BITS*m +: ACC_BITS],
//                          sampled each LOAD (not FIRST_CHUNK)
//   shift_data, bias_shift_data : lane m's shifts at [8*m +: 8], signed, static during a run
//   out_valid, out_addr, out_data, psum_data : pixel oy*OUT_COLS+ox; lane m's int16 output at
//                          out_data[16*m +: 16] (LAST_CHUNK; else 0), its psum at psum_data[ACC_BITS*m +: ACC_BITS]
//   ovf_count            : outputs (lane x pixel) whose accumulation overflowed, valid with done
`timescale 1ns / 1ps

module mac_tile #(
    // Defaults: the conv1 tile of the smoke golden set (64 x 15x32 outputs,
    // 3 x 5x5 taps); cosim.sh overrides every one from the manifest per run.
    parameter integer M           = 64,  // output channels in the tile (= lanes)
    parameter integer TK          = 3,   // input channels in the reduction chunk
    parameter integer K           = 5,   // kernel height = width
    parameter integer STRIDE      = 1,   // convolution stride
    parameter integer IN_ROWS     = 19,  // padded patch rows = (OUT_ROWS-1)*STRIDE + K
    parameter integer IN_COLS     = 36,  // padded patch cols = (OUT_COLS-1)*STRIDE + K
    parameter integer OUT_ROWS    = 15,  // output rows of the tile
    parameter integer OUT_COLS    = 32,  // output cols of the tile (full layer width)
    parameter integer RELU        = 1,   // 1: ReLU after saturation
    parameter integer ACC_BITS    = 40,  // accumulator width: refimpl DEFAULT_ACC_BITS, legal 32..62
    parameter integer BIAS_BITS   = 16,  // bias word width: 16 or 32 (refimpl QLayer.bias_bits)
    parameter integer ROUNDING    = 0,   // 0 half_up, 1 half_even, 2 truncate
    parameter integer OVERFLOW    = 0,   // 0 saturate, 1 wrap, 2 error
    parameter integer FIRST_CHUNK = 1,   // 1: start from the bias; 0: from psum_in (a later input chunk)
    parameter integer LAST_CHUNK  = 1    // 1: also write requantized int16 outputs; 0: psums only
) (
    clk, rst, start, busy, done,
    in_addr, in_data, w_addr, w_data, bias_data, pix_addr, psum_in_data,
    shift_data, bias_shift_data,
    out_valid, out_addr, out_data, psum_data, ovf_count
);
    // ------------------------------------------------------------ sizes
    localparam integer WORD_BITS  = 16;                 // activations, weights, outputs: int16 (refimpl WORD_BITS)
    localparam integer SHIFT_BITS = 8;                  // per-lane shift words, signed: |shift| <= MAX_SHIFT
    localparam integer MAX_SHIFT  = 62;                 // refimpl keeps every shift below 62 bits (quantize.FRAC_MIN/MAX)
    localparam integer IN_WORDS   = TK * IN_ROWS * IN_COLS;  // patch words
    localparam integer TAPS       = TK * K * K;         // products per output
    localparam integer PIXELS     = OUT_ROWS * OUT_COLS; // outputs per lane
    // address / counter widths: ceil(log2(n)), at least 1 bit
    localparam integer IN_AW  = (IN_WORDS > 1) ? $clog2(IN_WORDS) : 1;
    localparam integer W_AW   = (TAPS > 1)     ? $clog2(TAPS)     : 1;
    localparam integer PIX_AW = (PIXELS > 1)   ? $clog2(PIXELS)   : 1;
    localparam integer C_W    = (TK > 1)       ? $clog2(TK)       : 1;
    localparam integer K_W    = (K > 1)        ? $clog2(K)        : 1;
    localparam integer OY_W   = (OUT_ROWS > 1) ? $clog2(OUT_ROWS) : 1;
    localparam integer OX_W   = (OUT_COLS > 1) ? $clog2(OUT_COLS) : 1;

    // accumulator range [-2^(ACC_BITS-1), 2^(ACC_BITS-1) - 1] as bit patterns
    localparam signed [ACC_BITS-1:0] ACC_MAX = {1'b0, {(ACC_BITS-1){1'b1}}};
    localparam signed [ACC_BITS-1:0] ACC_MIN = {1'b1, {(ACC_BITS-1){1'b0}}};
    // int16 output range
    localparam integer OUT_MAX = 32767;                 // 2^15 - 1
    localparam integer OUT_MIN = -32768;                // -2^15
    // shifter width: holds a bias or accumulator shifted left by up to
    // MAX_SHIFT bits, and x + 2^(s-1), without overflow
    localparam integer RW = ((ACC_BITS > BIAS_BITS) ? ACC_BITS : BIAS_BITS) + MAX_SHIFT + 2;

`ifdef FAULT
    localparam integer ROUND_OUT = (ROUNDING == 0) ? 2 : 0;     // deliberate bug: the wrong rounding mode
`else
    localparam integer ROUND_OUT = ROUNDING;
`endif
`ifdef FAULT_OVERFLOW
    localparam integer POLICY = (OVERFLOW == 1) ? 0 : 1;        // deliberate bug: the wrong overflow policy
`else
    localparam integer POLICY = OVERFLOW;
`endif
    localparam integer WRAP = (POLICY == 1);            // else clamp (saturate; error also counts)

    // ------------------------------------------------------------ ports
    input  wire                           clk;
    input  wire                           rst;
    input  wire                           start;
    output reg                            busy;
    output reg                            done;
    output wire [IN_AW-1:0]               in_addr;
    input  wire signed [WORD_BITS-1:0]    in_data;
    output wire [W_AW-1:0]                w_addr;
    input  wire [M*WORD_BITS-1:0]         w_data;
    input  wire [M*BIAS_BITS-1:0]         bias_data;
    output wire [PIX_AW-1:0]              pix_addr;
    input  wire [M*ACC_BITS-1:0]          psum_in_data;
    input  wire [M*SHIFT_BITS-1:0]        shift_data;
    input  wire [M*SHIFT_BITS-1:0]        bias_shift_data;
    output reg                            out_valid;
    output reg  [PIX_AW-1:0]              out_addr;
    output wire [M*WORD_BITS-1:0]         out_data;
    output wire [M*ACC_BITS-1:0]          psum_data;
    output reg  [31:0]                    ovf_count;

    // ------------------------------------------------------------ arithmetic
    // x * 2^-s rounded by mode (refimpl fixedpoint.round_shift); |s| <= MAX_SHIFT
    function signed [RW-1:0] round_shift(input signed [RW-1:0] x, input signed [SHIFT_BITS-1:0] s,
                                         input integer mode);
        reg signed [RW-1:0] q, dropped, half;
        integer n;
        begin
            if (s > 0) begin
                n = s;
                half = {{(RW-1){1'b0}}, 1'b1} << (n - 1);        // 2^(s-1)
                q = x >>> n;                                     // arithmetic: floor(x / 2^s)
                dropped = x - (q <<< n);                         // 0 <= dropped < 2^s
                if (mode == 0)
                    q = (x + half) >>> n;
                else if (mode == 1 && (dropped > half || (dropped == half && q[0])))
                    q = q + 1;
                round_shift = q;                                 // mode 2: floor
            end else begin
                n = -s;
                round_shift = x <<< n;                           // exact in RW bits
            end
        end
    endfunction

    // out of the accumulator range?
    function out_of_range(input signed [RW-1:0] t);
        out_of_range = (t > $signed(ACC_MAX)) || (t < $signed(ACC_MIN));
    endfunction

    // the overflow policy on a value already known in or out of range
    function signed [ACC_BITS-1:0] fit(input signed [RW-1:0] t);
        begin
            if (WRAP || !out_of_range(t)) fit = t[ACC_BITS-1:0];   // wrap: the low bits
            else if (t > 0)               fit = ACC_MAX;
            else                          fit = ACC_MIN;
        end
    endfunction

    // raw bias word -> accumulator units (refimpl fixedpoint.align_bias), before fit()
    function signed [RW-1:0] align_bias(input signed [BIAS_BITS-1:0] b, input signed [SHIFT_BITS-1:0] bs);
        reg signed [RW-1:0] t;
        begin
            t = b;                                      // sign-extend
            align_bias = round_shift(t, -bs, ROUNDING); // bs >= 0: exact left shift
        end
    endfunction

    // accumulator -> int16 output: round-shift, saturate, ReLU
    function [WORD_BITS-1:0] requant(input signed [ACC_BITS-1:0] a, input signed [SHIFT_BITS-1:0] s);
        reg signed [RW-1:0] t;
        begin
            t = a;                                      // sign-extend
            t = round_shift(t, s, ROUND_OUT);
            if (t > OUT_MAX)      t = OUT_MAX;
            else if (t < OUT_MIN) t = OUT_MIN;
            if (RELU != 0 && t < 0) t = 0;
            requant = t[WORD_BITS-1:0];
        end
    endfunction

    // ------------------------------------------------------------ control
    localparam [1:0] S_IDLE = 2'd0,     // waiting for start
                     S_LOAD = 2'd1,     // acc <= aligned bias or psum in
                     S_MAC  = 2'd2,     // one tap per clock, TAPS clocks
                     S_OUT  = 2'd3;     // requantize, write one pixel of all lanes
    // Address generators step by constant increments (no multipliers):
    //   patch address of tap (c, ky, kx) of pixel (oy, ox)
    //     = pix_base + (c*IN_ROWS + ky)*IN_COLS + kx,  pix_base = oy*STRIDE*IN_COLS + ox*STRIDE
    localparam integer STEP_KY  = IN_COLS - (K - 1);                          // kx wraps, ky + 1
    localparam integer STEP_C   = (IN_ROWS - (K - 1)) * IN_COLS - (K - 1);    // ky, kx wrap, c + 1
    localparam integer STEP_OX  = STRIDE;                                     // next output column
    localparam integer STEP_OY  = STRIDE * IN_COLS;                           // next output row
    reg [1:0]        state;
    reg [C_W-1:0]    c;                 // tap counters, (c, ky, kx) order = the numeric contract's
    reg [K_W-1:0]    ky, kx;
    reg [OY_W-1:0]   oy;                // pixel counters, row-major
    reg [OX_W-1:0]   ox;
    reg [PIX_AW-1:0] pix;               // = oy*OUT_COLS + ox
    reg [IN_AW-1:0]  row_base;          // patch address of tap 0 of pixel (oy, 0)
    reg [IN_AW-1:0]  pix_base;          // patch address of tap 0 of pixel (oy, ox)
    reg [IN_AW-1:0]  in_addr_r;
    reg [W_AW-1:0]   w_addr_r;          // = (c*K + ky)*K + kx: taps are stored in order

    assign in_addr = in_addr_r;
    assign w_addr  = w_addr_r;
    assign pix_addr = pix;

    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            busy <= 1'b0;
            done <= 1'b0;
            out_valid <= 1'b0;
            out_addr <= {PIX_AW{1'b0}};
            c <= 0; ky <= 0; kx <= 0; oy <= 0; ox <= 0; pix <= 0;
            row_base <= 0; pix_base <= 0; in_addr_r <= 0; w_addr_r <= 0;
        end else begin
            done <= 1'b0;
            out_valid <= 1'b0;
            case (state)
                S_IDLE:
                    if (start) begin
                        busy <= 1'b1;
                        c <= 0; ky <= 0; kx <= 0; oy <= 0; ox <= 0; pix <= 0;
                        row_base <= 0; pix_base <= 0;
                        state <= S_LOAD;
                    end
                S_LOAD: begin
                    in_addr_r <= pix_base;
                    w_addr_r <= 0;
                    state <= S_MAC;
                end
                S_MAC: begin
                    w_addr_r <= w_addr_r + 1'b1;
                    if (kx != K - 1) begin
                        kx <= kx + 1'b1;
                        in_addr_r <= in_addr_r + 1'b1;
                    end else begin
                        kx <= 0;
                        if (ky != K - 1) begin
                            ky <= ky + 1'b1;
                            in_addr_r <= in_addr_r + STEP_KY;
                        end else begin
                            ky <= 0;
                            if (c != TK - 1) begin
                                c <= c + 1'b1;
                                in_addr_r <= in_addr_r + STEP_C;
                            end else begin
                                c <= 0;
                                state <= S_OUT;
                            end
                        end
                    end
                end
                S_OUT: begin
                    out_valid <= 1'b1;
                    out_addr <= pix;
                    pix <= pix + 1'b1;
                    state <= S_LOAD;
                    if (ox != OUT_COLS - 1) begin
                        ox <= ox + 1'b1;
                        pix_base <= pix_base + STEP_OX;
                    end else begin
                        ox <= 0;
                        row_base <= row_base + STEP_OY;
                        pix_base <= row_base + STEP_OY;
                        if (oy != OUT_ROWS - 1)
                            oy <= oy + 1'b1;
                        else begin
                            oy <= 0;
                            busy <= 1'b0;
                            done <= 1'b1;
                            state <= S_IDLE;
                        end
                    end
                end
            endcase
        end
    end

    // ------------------------------------------------------------ lanes
    // M lanes, unrolled by the loop (one always block: per lane nets would
    // each re-evaluate on every w_data change, M^2 work per clock in Icarus).
    // acc and ovf are private to this block (nothing else reads them), so
    // their blocking assignments are race-free; they save one scheduled event
    // per lane and clock (about a quarter of the simulation time).
    reg signed [ACC_BITS-1:0]  acc [0:M-1];     // lane accumulators
    reg                        ovf [0:M-1];     // lane's accumulation of this pixel overflowed
    reg [M*WORD_BITS-1:0]      y = 0;           // requantized outputs, lane m at [16*m +: 16]
    reg [M*ACC_BITS-1:0]       psum;            // psums, lane m at [ACC_BITS*m +: ACC_BITS]
    reg signed [WORD_BITS-1:0] w_l;             // lane weight
    reg signed [ACC_BITS:0]    sum;             // acc + product, one guard bit
    reg signed [RW-1:0]        b_al;            // aligned bias
    integer l, n_ovf;

    assign out_data = y;
    assign psum_data = psum;

    always @(posedge clk) begin
        if (rst)
            ovf_count <= 0;
        else case (state)
            S_IDLE:
                if (start) ovf_count <= 0;
            S_LOAD:
                for (l = 0; l < M; l = l + 1)
                    if (FIRST_CHUNK != 0) begin
                        b_al = align_bias(bias_data[BIAS_BITS*l +: BIAS_BITS], bias_shift_data[SHIFT_BITS*l +: SHIFT_BITS]);
                        ovf[l] = out_of_range(b_al);
                        acc[l] = fit(b_al);
                    end else begin
                        ovf[l] = 1'b0;                      // psums of the previous chunk are in range
                        acc[l] = psum_in_data[ACC_BITS*l +: ACC_BITS];
                    end
            S_MAC:
                for (l = 0; l < M; l = l + 1) begin
                    w_l = w_data[WORD_BITS*l +: WORD_BITS];
                    // all operands signed, sign-extended to ACC_BITS+1 bits: the
                    // product equals the exact int16 x int16 one (|p| <= 2^30)
                    sum = acc[l] + in_data * w_l;
                    // the guard bit suffices since |acc| <= 2^(ACC_BITS-1) and
                    // |p| <= 2^30 <= 2^(ACC_BITS-1); overflow iff the top two differ
                    if (sum[ACC_BITS] == sum[ACC_BITS-1] || WRAP) begin
                        if (sum[ACC_BITS] != sum[ACC_BITS-1]) ovf[l] = 1'b1;
                        acc[l] = sum[ACC_BITS-1:0];         // blocking: see above; wrap keeps the low bits
                    end else begin
                        ovf[l] = 1'b1;
                        acc[l] = sum[ACC_BITS] ? ACC_MIN : ACC_MAX;
                    end
                end
            S_OUT: begin
                n_ovf = 0;
                for (l = 0; l < M; l = l + 1) begin
                    if (LAST_CHUNK != 0)
                        y[WORD_BITS*l +: WORD_BITS] <= requant(acc[l], shift_data[SHIFT_BITS*l +: SHIFT_BITS]);
                    psum[ACC_BITS*l +: ACC_BITS] <= acc[l];
                    n_ovf = n_ovf + ovf[l];
                end
                ovf_count <= ovf_count + n_ovf;
            end
            default: ;
        endcase
    end
endmodule
