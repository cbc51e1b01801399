// mac_tile.v -- RTL model of the arithmetic of ONE MAC-array tile of the
// refimpl engine (bit-exact against refimpl's golden tiles; see
// refimpl/fixedpoint.py for the numeric contract it implements).
//
// One tile: M output channels x (OUT_ROWS x OUT_COLS) output pixels, reducing
// over TK input channels x K x K kernel taps of an already zero-padded input
// patch (TK x IN_ROWS x IN_COLS).  For every output (m, oy, ox):
//
//   acc = sat_acc(bias[m] << BIAS_SHIFT)            (BIAS_SHIFT < 0: (b + 2^(-BS-1)) >>> -BS)
//   for c < TK, ky < K, kx < K  (this order):
//       acc = sat_acc(acc + in[c][oy*STRIDE+ky][ox*STRIDE+kx] * w[m][c][ky][kx])
//   y = SHIFT > 0 ? (acc + 2^(SHIFT-1)) >>> SHIFT       (round half up)
//     : SHIFT == 0 ? acc : acc <<< -SHIFT
//   y = sat16(y);  if (RELU) y = max(y, 0)
//
// sat_acc clamps to the ACC_BITS-bit two's complement range after EVERY
// addition (refimpl overflow policy "saturate").  Compiled with +define+FAULT
// (iverilog -DFAULT) the requantization truncates (no rounding constant):
// a deliberate bug, used to prove that the co-simulation catches mismatches.
//
// Micro-architecture: output-channel parallel.  M lanes each hold one
// accumulator; one input word is broadcast to all lanes and each lane gets its
// own weight, so one (c, ky, kx) tap of one pixel is done per clock on all M
// channels.  Per pixel: 1 LOAD cycle (bias), TK*K*K MAC cycles, 1 OUT cycle
// (requantize, write).  Memories are outside the module and read
// asynchronously (address out, data back in the same cycle).
//
// Ports:
//   clk, rst (synchronous, active high), start (pulse while idle), busy, done
//   (one-cycle pulse together with the last out_valid).
//   in_addr  -> in_data  : patch word [c][row][col], address (c*IN_ROWS+row)*IN_COLS+col
//   w_addr   -> w_data   : tap (c*K+ky)*K+kx; lane m's weight at w_data[16*m +: 16]
//   bias_data            : lane m's bias at bias_data[BIAS_BITS*m +: BIAS_BITS], sampled each LOAD
//   out_valid, out_addr, out_data : pixel oy*OUT_COLS+ox; lane m's int16 at out_data[16*m +: 16]
`timescale 1ns / 1ps

module mac_tile #(
    // Defaults: the conv1 tile of the golden-set manifest format example
    // (12 x 5x32 outputs, 3 x 5x5 taps); cosim.sh overrides every one per run.
    parameter integer M          = 12,  // output channels in the tile (= lanes)
    parameter integer TK         = 3,   // input channels in the reduction chunk
    parameter integer K          = 5,   // kernel height = width
    parameter integer STRIDE     = 1,   // convolution stride
    parameter integer IN_ROWS    = 9,   // padded patch rows = (OUT_ROWS-1)*STRIDE + K
    parameter integer IN_COLS    = 36,  // padded patch cols = (OUT_COLS-1)*STRIDE + K
    parameter integer OUT_ROWS   = 5,   // output rows of the tile
    parameter integer OUT_COLS   = 32,  // output cols of the tile (full layer width)
    parameter integer SHIFT      = 14,  // requantization shift = in_frac + w_frac - out_frac
    parameter integer BIAS_SHIFT = 2,   // bias alignment = acc_frac - b_frac
    parameter integer RELU       = 1,   // 1: ReLU after saturation
    parameter integer ACC_BITS   = 40,  // accumulator width: refimpl DEFAULT_ACC_BITS, legal 32..62
    parameter integer BIAS_BITS  = 16   // bias word width: 16 or 32 (refimpl QLayer.bias_bits)
) (
    clk, rst, start, busy, done,
    in_addr, in_data, w_addr, w_data, bias_data,
    out_valid, out_addr, out_data
);
    // ------------------------------------------------------------ sizes
    localparam integer WORD_BITS = 16;                  // activations, weights, outputs: int16 (refimpl WORD_BITS)
    localparam integer IN_WORDS  = TK * IN_ROWS * IN_COLS;  // patch words
    localparam integer TAPS      = TK * K * K;          // products per output
    localparam integer PIXELS    = OUT_ROWS * OUT_COLS; // outputs per lane
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

    // bias alignment: left shift BS_L, or rounding (half up) right shift BS_R
    // (refimpl fixedpoint.align_bias with rounding half_up)
    localparam integer BS_L = (BIAS_SHIFT > 0) ? BIAS_SHIFT : 0;
    localparam integer BS_R = (BIAS_SHIFT < 0) ? -BIAS_SHIFT : 0;
    localparam integer BW   = BIAS_BITS + BS_L + BS_R + 2;  // holds b << BS_L, and b + 2^BS_R without overflow
    localparam signed [BW-1:0] BIAS_HALF = ({{(BW-1){1'b0}}, 1'b1} << BS_R) >> 1;  // 2^(BS_R-1), 0 if BS_R = 0

    // requantization: right shift SR with rounding, or left shift SL
    localparam integer SR = (SHIFT > 0) ? SHIFT : 0;
    localparam integer SL = (SHIFT < 0) ? -SHIFT : 0;
    localparam integer RW = ACC_BITS + SL + SR + 1;     // holds acc << SL, and acc + 2^SR without overflow
`ifdef FAULT
    localparam signed [RW-1:0] ROUND_HALF = 0;          // deliberate bug: truncate (floor) instead of half up
`else
    localparam signed [RW-1:0] ROUND_HALF = ({{(RW-1){1'b0}}, 1'b1} << SR) >> 1;   // 2^(SR-1), 0 if SR = 0
`endif

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
    output reg                            out_valid;
    output reg  [PIX_AW-1:0]              out_addr;
    output wire [M*WORD_BITS-1:0]         out_data;

    // ------------------------------------------------------------ arithmetic
    // raw bias word -> accumulator units, clamped to the accumulator range
    function signed [ACC_BITS-1:0] align_bias(input signed [BIAS_BITS-1:0] b);
        reg signed [BW-1:0] t;
        begin
            t = b;                                      // sign-extend
            t = (t + BIAS_HALF) >>> BS_R;               // no-op when BS_R = 0
            t = t <<< BS_L;                             // exact in BW bits
            if (t > ACC_MAX)      align_bias = ACC_MAX;
            else if (t < ACC_MIN) align_bias = ACC_MIN;
            else                  align_bias = t;      // in range: sign-extends or drops copies of the sign
        end
    endfunction

    // accumulator -> int16 output: round-shift, saturate, ReLU
    function [WORD_BITS-1:0] requant(input signed [ACC_BITS-1:0] a);
        reg signed [RW-1:0] t;
        begin
            t = a;                                      // sign-extend
            t = (t + ROUND_HALF) >>> SR;                // arithmetic shift: floor of (a + half) / 2^SR
            t = t <<< SL;                               // exact in RW bits
            if (t > OUT_MAX)      t = OUT_MAX;
            else if (t < OUT_MIN) t = OUT_MIN;
            if (RELU != 0 && t < 0) t = 0;
            requant = t[WORD_BITS-1:0];
        end
    endfunction

    // ------------------------------------------------------------ control
    localparam [1:0] S_IDLE = 2'd0,     // waiting for start
                     S_LOAD = 2'd1,     // acc <= aligned bias
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
    // acc is private to this block (nothing else reads it), so its blocking
    // assignments are race-free; they save one scheduled event per lane and
    // clock (about a quarter of the simulation time).
    reg signed [ACC_BITS-1:0]  acc [0:M-1];     // lane accumulators
    reg [M*WORD_BITS-1:0]      y;               // requantized outputs, lane m at [16*m +: 16]
    reg signed [WORD_BITS-1:0] w_l;             // lane weight
    reg signed [ACC_BITS:0]    sum;             // acc + product, one guard bit
    integer l;

    assign out_data = y;

    always @(posedge clk) begin
        case (state)
            S_LOAD:
                for (l = 0; l < M; l = l + 1)
                    acc[l] = align_bias(bias_data[BIAS_BITS*l +: BIAS_BITS]);
            S_MAC:
                for (l = 0; l < M; l = l + 1) begin
                    w_l = w_data[WORD_BITS*l +: WORD_BITS];
                    // all operands signed, sign-extended to ACC_BITS+1 bits: the
                    // product equals the exact int16 x int16 one (|p| <= 2^30)
                    sum = acc[l] + in_data * w_l;
                    // saturate: the guard bit suffices since |acc| <= 2^(ACC_BITS-1)
                    // and |p| <= 2^30 <= 2^(ACC_BITS-1); overflow iff the top two differ
                    if (sum[ACC_BITS] == sum[ACC_BITS-1])
                        acc[l] = sum[ACC_BITS-1:0];         // blocking: see above
                    else
                        acc[l] = sum[ACC_BITS] ? ACC_MIN : ACC_MAX;
                end
            S_OUT:
                for (l = 0; l < M; l = l + 1)
                    y[WORD_BITS*l +: WORD_BITS] <= requant(acc[l]);
            default: ;
        endcase
    end
endmodule
