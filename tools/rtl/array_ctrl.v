// array_ctrl.v -- controller, psum buffer and requantization stage around
// array_os.v: runs one input-channel chunk of one tile (all its passes) per
// start pulse, as refimpl/array/model.py does, and writes every pass's psums
// and requantized outputs.  See README "For RTL engineers: the MAC array".
//
// A tile has M output channels and NPIX output pixels: NCB = ceil(M/ROWS)
// channel blocks x NPB = ceil(NPIX/COLS) pixel blocks = P passes, pass
// p = cb*NPB + pb.  Per chunk (k_len = K steps a pass, sampled with start):
//   edge 0 (samples start): step 0 of pass 0 into the feed registers;
//   step k of pass p at edge p*I + k, I = max(K, ROWS + COLS); zeros between;
//   the edge after a pass's step 0: pre_load of its start psums: on the first
//     chunk fit(align(bias)) of its rows, else the psums the previous chunk's
//     same pass ended with (the psum buffer, P x ROWS*COLS words); 0 on padded
//     MACs (rows past M, columns past NPIX);
//   the edge after last_done: capture of all res registers;
//   the next edge: write: out_valid, out_pass, out_psum (= psum buffer entry),
//     out_y = requantized out_psum; done with the last pass's write.
// So a chunk takes (P-1)*I + K + ROWS + COLS + 1 cycles from the start edge to
// done (refimpl/array/timing.py).
//
// Numerics (refimpl/fixedpoint.py, as tools/rtl/mac_tile.v): bias alignment
// by a left shift of bias_shift (or a rounding right shift if negative),
// fit() into ACC_BITS, requantization round_shift by the row's shift with
// ROUNDING 0 half_up / 1 half_even / 2 truncate, int16 saturation, ReLU.
//
// Deliberate bug: +define+FAULT_CARRY drops the psum carry between chunks (a
// later chunk's MACs start from 0 instead of the psum buffer).
//
// Ports (clk rising edge; rst synchronous, active high; memories outside,
// read asynchronously: address out, data back in the same cycle):
//   start          pulse while idle; first_chunk, last_chunk, k_len, s_base sampled with it
//   busy, done     done: one-cycle pulse with the last out_valid
//   s_addr -> w_data [ROWS*16], x_data [COLS*16]: step words, address s_base + p*k_len + k
//                  (the tile's w_stream / x_stream files, one step of all rows / columns a word)
//   pre_blk -> bias_data [ROWS*BIAS_BITS], bias_shift_data [ROWS*8]: channel block pre_blk's rows
//   out_blk -> shift_data [ROWS*8]: requantization shifts of channel block out_blk's rows
//   out_valid, out_pass, out_psum [ROWS*COLS*ACC_BITS], out_y [ROWS*COLS*16]: MAC (r, j) at
//                  [W*(r*COLS + j) +: W]; out_y is meaningful on a last chunk
// Shift words are signed 8-bit (|shift| <= 62, as refimpl keeps them).
`timescale 1ns / 1ps

module array_ctrl #(
    parameter integer ROWS      = 12,
    parameter integer COLS      = 12,
    parameter integer M         = 64,    // tile output channels
    parameter integer NPIX      = 480,   // tile output pixels (output rows x full width)
    parameter integer ACC_BITS  = 40,
    parameter integer BIAS_BITS = 16,    // 16 or 32
    parameter integer ROUNDING  = 0,     // 0 half_up, 1 half_even, 2 truncate
    parameter integer OVERFLOW  = 0,     // 0 saturate, 1 wrap, 2 error
    parameter integer RELU      = 1
) (
    input  wire                          clk,
    input  wire                          rst,
    input  wire                          start,
    input  wire                          first_chunk,
    input  wire                          last_chunk,
    input  wire [31:0]                   k_len,
    input  wire [31:0]                   s_base,
    output reg                           busy,
    output reg                           done,
    output wire [31:0]                   s_addr,
    input  wire [ROWS*16-1:0]            w_data,
    input  wire [COLS*16-1:0]            x_data,
    output wire [31:0]                   pre_blk,
    input  wire [ROWS*BIAS_BITS-1:0]     bias_data,
    input  wire [ROWS*8-1:0]             bias_shift_data,
    output wire [31:0]                   out_blk,
    input  wire [ROWS*8-1:0]             shift_data,
    output reg                           out_valid,
    output reg  [31:0]                   out_pass,
    output reg  [ROWS*COLS*ACC_BITS-1:0] out_psum,
    output reg  [ROWS*COLS*16-1:0]       out_y
);
    localparam integer NCB = (M + ROWS - 1) / ROWS;
    localparam integer NPB = (NPIX + COLS - 1) / COLS;
    localparam integer P = NCB * NPB;
    localparam integer SB = 8;                              // shift word bits
    localparam integer MAX_SHIFT = 62;
    localparam integer RW = ((ACC_BITS > BIAS_BITS) ? ACC_BITS : BIAS_BITS) + MAX_SHIFT + 2;
    localparam integer WIDE = ROWS * COLS * ACC_BITS;
    localparam signed [ACC_BITS-1:0] ACC_MAX = {1'b0, {(ACC_BITS-1){1'b1}}};
    localparam signed [ACC_BITS-1:0] ACC_MIN = {1'b1, {(ACC_BITS-1){1'b0}}};

    // ------------------------------------------------------------ arithmetic (as mac_tile.v)
    function signed [RW-1:0] round_shift(input signed [RW-1:0] x, input signed [SB-1:0] s, input integer mode);
        reg signed [RW-1:0] q, dropped, half;
        integer n;
        begin
            if (s > 0) begin
                n = s;
                half = {{(RW-1){1'b0}}, 1'b1} << (n - 1);
                q = x >>> n;                                  // floor
                dropped = x - (q <<< n);
                if (mode == 0)
                    q = (x + half) >>> n;
                else if (mode == 1 && (dropped > half || (dropped == half && q[0])))
                    q = q + 1;
                round_shift = q;
            end else begin
                n = -s;
                round_shift = x <<< n;
            end
        end
    endfunction

    function signed [ACC_BITS-1:0] fit(input signed [RW-1:0] t);
        begin
            if (OVERFLOW == 1 || (t <= $signed(ACC_MAX) && t >= $signed(ACC_MIN))) fit = t[ACC_BITS-1:0];
            else if (t > 0) fit = ACC_MAX;
            else            fit = ACC_MIN;
        end
    endfunction

    function [15:0] requant(input signed [ACC_BITS-1:0] a, input signed [SB-1:0] s);
        reg signed [RW-1:0] t;
        begin
            t = a;
            t = round_shift(t, s, ROUNDING);
            if (t > 32767) t = 32767;
            else if (t < -32768) t = -32768;
            if (RELU != 0 && t < 0) t = 0;
            requant = t[15:0];
        end
    endfunction

    // ------------------------------------------------------------ feed
    reg        first_r, last_r, feeding;
    reg [31:0] klen_r, interval, fk, fp, fcb, fpb, s_addr_r;
    reg [ROWS*16-1:0] feed_w;
    reg [COLS*16-1:0] feed_x;
    reg        feed_v, feed_f, feed_l;
    reg [31:0] feed_p, feed_cb, feed_pb;
    assign s_addr = busy ? s_addr_r : s_base;                 // idle: step 0 of pass 0 ready for the start edge

    // ------------------------------------------------------------ start psums
    reg [WIDE-1:0] psum_buf [0:P-1];                           // the previous chunk's psums_end, per pass
    wire [WIDE-1:0] carry = psum_buf[feed_p];
    reg  [WIDE-1:0] pre_data;
    assign pre_blk = feed_cb;
    integer pr, pj;
    always @* begin
        for (pr = 0; pr < ROWS; pr = pr + 1)
            for (pj = 0; pj < COLS; pj = pj + 1)
                if (feed_cb * ROWS + pr >= M || feed_pb * COLS + pj >= NPIX)
                    pre_data[ACC_BITS*(pr*COLS+pj) +: ACC_BITS] = 0;                      // padded MAC
                else if (first_r)
                    pre_data[ACC_BITS*(pr*COLS+pj) +: ACC_BITS] =
                        fit(round_shift($signed(bias_data[BIAS_BITS*pr +: BIAS_BITS]),
                                        -$signed(bias_shift_data[SB*pr +: SB]), ROUNDING));
                else
`ifdef FAULT_CARRY
                    pre_data[ACC_BITS*(pr*COLS+pj) +: ACC_BITS] = 0;      // deliberate bug: carry dropped
`else
                    pre_data[ACC_BITS*(pr*COLS+pj) +: ACC_BITS] = carry[ACC_BITS*(pr*COLS+pj) +: ACC_BITS];
`endif
    end

    // ------------------------------------------------------------ the array
    wire [WIDE-1:0] res_data;
    wire last_done;
    array_os #(.ROWS(ROWS), .COLS(COLS), .ACC_BITS(ACC_BITS), .OVERFLOW(OVERFLOW)) grid (
        .clk(clk), .rst(rst), .feed_w(feed_w), .feed_x(feed_x), .feed_v(feed_v), .feed_f(feed_f),
        .feed_l(feed_l), .pre_load(feed_v & feed_f), .pre_data(pre_data), .res_data(res_data),
        .last_done(last_done));

    // ------------------------------------------------------------ capture and write
    reg [WIDE-1:0] cap;
    reg        cap_valid;
    reg [31:0] cap_pass, n_cap;
    assign out_blk = cap_pass / NPB;
    integer r, j;

    always @(posedge clk) begin
        if (rst) begin
            busy <= 1'b0; done <= 1'b0; out_valid <= 1'b0; feeding <= 1'b0;
            feed_v <= 1'b0; feed_f <= 1'b0; feed_l <= 1'b0; feed_w <= 0; feed_x <= 0;
            feed_p <= 0; feed_cb <= 0; feed_pb <= 0; cap_valid <= 1'b0; cap_pass <= 0; n_cap <= 0;
            first_r <= 1'b1; last_r <= 1'b1; klen_r <= 1; interval <= 1; fk <= 0; fp <= 0; fcb <= 0; fpb <= 0;
            s_addr_r <= 0; out_pass <= 0;
        end else begin
            done <= 1'b0;
            out_valid <= 1'b0;
            // write stage: the pass captured on the previous edge
            if (cap_valid) begin
                out_valid <= 1'b1;
                out_pass <= cap_pass;
                out_psum <= cap;
                for (r = 0; r < ROWS; r = r + 1)
                    for (j = 0; j < COLS; j = j + 1)
                        out_y[16*(r*COLS+j) +: 16] <= requant(cap[ACC_BITS*(r*COLS+j) +: ACC_BITS],
                                                              shift_data[SB*r +: SB]);
                psum_buf[cap_pass] <= cap;
                if (cap_pass == P - 1) begin
                    done <= 1'b1;
                    busy <= 1'b0;
                end
            end
            // capture: the last MAC ended a pass on the previous edge
            cap_valid <= last_done;
            if (last_done) begin
                cap <= res_data;
                cap_pass <= n_cap;
                n_cap <= n_cap + 1;
            end
            // feed
            if (start && !busy) begin
                busy <= 1'b1;
                first_r <= first_chunk;
                last_r <= last_chunk;
                klen_r <= k_len;
                interval <= (k_len > ROWS + COLS) ? k_len : ROWS + COLS;
                n_cap <= 0;
                feed_w <= w_data; feed_x <= x_data;                       // step 0 of pass 0 (s_addr = s_base)
                feed_v <= 1'b1; feed_f <= 1'b1; feed_l <= (k_len == 1);
                feed_p <= 0; feed_cb <= 0; feed_pb <= 0;
                s_addr_r <= s_base + 1;
                fk <= 1; fp <= 0; fcb <= 0; fpb <= 0;
                feeding <= 1'b1;
            end else if (feeding) begin
                if (fk < klen_r) begin
                    feed_w <= w_data; feed_x <= x_data;
                    feed_v <= 1'b1; feed_f <= (fk == 0); feed_l <= (fk == klen_r - 1);
                    feed_p <= fp; feed_cb <= fcb; feed_pb <= fpb;
                    s_addr_r <= s_addr_r + 1;
                end else begin
                    feed_w <= 0; feed_x <= 0; feed_v <= 1'b0; feed_f <= 1'b0; feed_l <= 1'b0;
                end
                if (fk == interval - 1) begin
                    fk <= 0;
                    fp <= fp + 1;
                    if (fpb == NPB - 1) begin fpb <= 0; fcb <= fcb + 1; end
                    else fpb <= fpb + 1;
                    if (fp == P - 1) feeding <= 1'b0;
                end else
                    fk <= fk + 1;
            end else begin
                feed_w <= 0; feed_x <= 0; feed_v <= 1'b0; feed_f <= 1'b0; feed_l <= 1'b0;
            end
        end
    end
endmodule
