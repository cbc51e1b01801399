// array_os.v -- the ROWS x COLS (12 x 12) output-stationary systolic MAC array of
// refimpl (refimpl/array/model.py is its cycle-level model, bit for bit and
// cycle for cycle; refimpl/array/timing.py states the cycle count).
//
// Dataflow.  Row r holds one output channel, column j one output pixel; every
// MAC keeps its psum while the K products of its output stream through.  The
// controller (array_ctrl.v) presents one unskewed step per clock on feed_w /
// feed_x (step k of pass p at edge p*I + k, I = max(K, ROWS + COLS)).  Row r's
// weight passes r skew registers, then moves right through the row's operand
// registers w_reg[r][0..COLS-1]; column j's input passes j skew registers,
// then moves down through x_reg[0..ROWS-1][j].  The flags {valid, first step,
// last step} travel with the weights.  So MAC (r, j) sees step k of pass p in
// its operand registers during the cycle after edge p*I + k + 1 + r + j and
// updates at edge p*I + k + 2 + r + j:
//     first step: acc = fit(pre + w * x)      (pre: the pass's start psum)
//     otherwise:  acc = fit(acc + w * x)
//     last step:  res = acc                   (held until the controller captures it)
// fit() is the accumulator overflow policy after every addition (refimpl
// fixedpoint.acc_add): OVERFLOW 0 saturate, 1 wrap (keep the low ACC_BITS
// bits), 2 error (clamps like saturate; refimpl raises).  last_done pulses the
// edge after MAC (ROWS-1, COLS-1) did its last step: every res of that pass is
// then final and the controller captures all of them on the next edge.
// pre_load (controller: the edge after step 0 of a pass was fed) loads all
// ROWS*COLS start psums at once; MAC (r, j) uses them r + j edges later, and
// the next pass's pre_load comes I >= ROWS + COLS edges later.
//
// Deliberate bugs, to prove that the co-simulation catches them:
//   +define+FAULT_STUCK   the multiplier of MAC (STUCK_ROW, STUCK_COL) is stuck at 0
//   +define+FAULT_SKEW    column SKEW_COL's input skew is one register too long, so
//                         its MACs multiply step k's weight by step k-1's input
//
// Ports (all synchronous to clk; rst synchronous, active high):
//   feed_w [ROWS*16]  signed weights of one step, row r at [16*r +: 16]
//   feed_x [COLS*16]  signed inputs of one step, column j at [16*j +: 16]
//   feed_v, feed_f, feed_l   the step is valid / step 0 / step K-1
//   pre_load, pre_data [ROWS*COLS*ACC_BITS]  start psums, MAC (r, j) at
//                     [ACC_BITS*(r*COLS + j) +: ACC_BITS]
//   res_data [ROWS*COLS*ACC_BITS]  the res registers, same packing
//   last_done         see above
`timescale 1ns / 1ps

module array_os #(
    parameter integer ROWS      = 12,   // output channels in parallel (refimpl profile array.rows)
    parameter integer COLS      = 12,   // output pixels in parallel (array.cols)
    parameter integer ACC_BITS  = 40,   // accumulator width, 32..62 (refimpl DEFAULT_ACC_BITS = 40)
    parameter integer OVERFLOW  = 0,    // 0 saturate, 1 wrap, 2 error
    parameter integer STUCK_ROW = 2,    // FAULT_STUCK: the broken MAC
    parameter integer STUCK_COL = 5,
    parameter integer SKEW_COL  = 3     // FAULT_SKEW: the column with one skew register too many
) (
    input  wire                          clk,
    input  wire                          rst,
    input  wire [ROWS*16-1:0]            feed_w,
    input  wire [COLS*16-1:0]            feed_x,
    input  wire                          feed_v,
    input  wire                          feed_f,
    input  wire                          feed_l,
    input  wire                          pre_load,
    input  wire [ROWS*COLS*ACC_BITS-1:0] pre_data,
    output reg  [ROWS*COLS*ACC_BITS-1:0] res_data,
    output reg                           last_done
);
    localparam integer WB = 16;                                   // int16 operands (refimpl WORD_BITS)
    localparam integer WRAP = (OVERFLOW == 1);
    localparam integer XSTAGES = COLS;                            // column j uses j of them (j + 1 with FAULT_SKEW)

    // Packed per row / column, so a shift is one assignment (the simulators run
    // much faster than with one assignment per register):
    reg [ROWS*WB-1:0]   wsk   [0:ROWS-1];       // row r's skew stages, stage s at [WB*s +: WB], s < r
    reg [ROWS-1:0]      vsk   [0:ROWS-1];       // its flags, stage s at bit s
    reg [ROWS-1:0]      fsk   [0:ROWS-1];
    reg [ROWS-1:0]      lsk   [0:ROWS-1];
    reg [XSTAGES*WB-1:0] xsk  [0:COLS-1];       // column j's skew stages, s < j
    reg [COLS*WB-1:0]   w_row [0:ROWS-1];       // w_reg[r][j] at [WB*j +: WB]
    reg [COLS-1:0]      v_row [0:ROWS-1];       // flags beside w_reg[r][j] at bit j
    reg [COLS-1:0]      f_row [0:ROWS-1];
    reg [COLS-1:0]      l_row [0:ROWS-1];
    reg [ROWS*WB-1:0]   x_col [0:COLS-1];       // x_reg[r][j] at [WB*r +: WB]
    // psums as 64-bit two-state integers (ACC_BITS <= 62, so psum + product fits): the
    // simulators' fast path for arithmetic; the values are those of ACC_BITS registers
    longint acc [0:ROWS-1][0:COLS-1];
    longint pre [0:ROWS-1][0:COLS-1];

    // skew registers of column j
    function integer x_delay(input integer j);
        begin
            x_delay = j;
`ifdef FAULT_SKEW
            if (j == SKEW_COL) x_delay = j + 1;                   // deliberate bug: one cycle late
`endif
        end
    endfunction

    // One always block; acc, pre, the operand and skew registers are private to it
    // and updated with blocking assignments in an order that reads every old value
    // first (MACs, then pre, then the shifts), like refimpl/array/model.py.
    localparam longint LO = -(64'sd1 <<< (ACC_BITS - 1));         // accumulator range
    localparam longint HI = (64'sd1 <<< (ACC_BITS - 1)) - 1;
    localparam longint SPAN = 64'sd1 <<< ACC_BITS;
    longint sum;
    shortint wv, xv;
    integer r, j, d;
    always @(posedge clk) begin
        if (rst) begin
            last_done <= 1'b0;
            res_data <= {ROWS*COLS*ACC_BITS{1'b0}};
            for (r = 0; r < ROWS; r = r + 1) begin
                wsk[r] = 0; vsk[r] = 0; fsk[r] = 0; lsk[r] = 0;
                w_row[r] = 0; v_row[r] = 0; f_row[r] = 0; l_row[r] = 0;
                for (j = 0; j < COLS; j = j + 1) begin acc[r][j] = 0; pre[r][j] = 0; end
            end
            for (j = 0; j < COLS; j = j + 1) begin xsk[j] = 0; x_col[j] = 0; end
        end else begin
            last_done <= v_row[ROWS-1][COLS-1] & l_row[ROWS-1][COLS-1];
            // MACs
            for (r = 0; r < ROWS; r = r + 1)
                if (v_row[r] != 0)
                    for (j = 0; j < COLS; j = j + 1)
                        if (v_row[r][j]) begin
                            wv = w_row[r][WB*j +: WB];
                            xv = x_col[j][WB*r +: WB];
`ifdef FAULT_STUCK
                            if (r == STUCK_ROW && j == STUCK_COL) wv = 0;     // deliberate bug: stuck multiplier
`endif
                            // fit(base + w * x): |w * x| <= 2^30, exact in 64 bits
                            sum = (f_row[r][j] ? pre[r][j] : acc[r][j]) + wv * xv;
                            if (sum > HI || sum < LO)
                                sum = WRAP ? ((sum - LO) & (SPAN - 1)) + LO : (sum > HI ? HI : LO);
                            acc[r][j] = sum;
                            if (l_row[r][j]) res_data[ACC_BITS*(r*COLS+j) +: ACC_BITS] <= sum[ACC_BITS-1:0];
                        end
            // start psums of the next pass
            if (pre_load)
                for (r = 0; r < ROWS; r = r + 1)
                    for (j = 0; j < COLS; j = j + 1)
                        pre[r][j] = $signed(pre_data[ACC_BITS*(r*COLS+j) +: ACC_BITS]);   // sign-extended
            // weights and flags move right; the row's last skew stage (row 0: the feed) enters column 0
            w_row[0] = {w_row[0][WB*(COLS-1)-1:0], feed_w[WB-1:0]};
            v_row[0] = {v_row[0][COLS-2:0], feed_v};
            f_row[0] = {f_row[0][COLS-2:0], feed_f};
            l_row[0] = {l_row[0][COLS-2:0], feed_l};
            for (r = 1; r < ROWS; r = r + 1) begin
                w_row[r] = {w_row[r][WB*(COLS-1)-1:0], wsk[r][WB*(r-1) +: WB]};
                v_row[r] = {v_row[r][COLS-2:0], vsk[r][r-1]};
                f_row[r] = {f_row[r][COLS-2:0], fsk[r][r-1]};
                l_row[r] = {l_row[r][COLS-2:0], lsk[r][r-1]};
            end
            // inputs move down; the column's last skew stage (or the feed) enters row 0
            for (j = 0; j < COLS; j = j + 1) begin
                d = x_delay(j);
                x_col[j] = {x_col[j][WB*(ROWS-1)-1:0], (d == 0) ? feed_x[WB*j +: WB] : xsk[j][WB*(d-1) +: WB]};
            end
            // skew registers: the feed enters stage 0 (stages past a row's or column's delay are unused)
            for (r = 1; r < ROWS; r = r + 1) begin
                wsk[r] = {wsk[r][WB*(ROWS-1)-1:0], feed_w[WB*r +: WB]};
                vsk[r] = {vsk[r][ROWS-2:0], feed_v};
                fsk[r] = {fsk[r][ROWS-2:0], feed_f};
                lsk[r] = {lsk[r][ROWS-2:0], feed_l};
            end
            for (j = 0; j < COLS; j = j + 1)
                xsk[j] = {xsk[j][WB*(XSTAGES-1)-1:0], feed_x[WB*j +: WB]};
        end
    end
endmodule
