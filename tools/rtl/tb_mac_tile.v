// tb_mac_tile.v -- testbench for mac_tile.v: loads one golden tile's hex
// files, runs the tile, dumps its psums and (last input chunk) its int16
// outputs for `refimpl compare`.
//
// Parameters (iverilog -P tb_mac_tile.NAME=value): the tile geometry and
// numerics, same names as mac_tile, taken from the golden manifest's "params"
// (and first_chunk / last_chunk) by cosim.sh.
// Plusargs (vvp ... +NAME=path):
//   +INPUTS=       TK*IN_ROWS*IN_COLS int16 words, [c][row][col]       (4 hex digits a line)
//   +WEIGHTS=      M*TK*K*K int16 words, [m][c][ky][kx]
//   +BIAS=         M words of BIAS_BITS bits (FIRST_CHUNK = 1)          (4 or 8 hex digits a line)
//   +PSUMS_IN=     M*OUT_ROWS*OUT_COLS ACC_BITS-bit words, [m][oy][ox] (FIRST_CHUNK = 0):
//                  the previous chunk's psums (the tile's psums_in in the manifest)
//   +SHIFTS=       M signed 8-bit words: lane m's requantization shift   (2 hex digits a line)
//   +BIAS_SHIFTS=  M signed 8-bit words: lane m's bias alignment shift
//   +PSUMS=        written: M*OUT_ROWS*OUT_COLS ACC_BITS-bit psums, [m][oy][ox], $writememh
//   +OUTPUTS=      written (LAST_CHUNK = 1): M*OUT_ROWS*OUT_COLS int16 outputs, [m][oy][ox]
//                  (the folders must exist; cosim.sh creates them)
// Input files may carry `//` comment lines ($readmemh skips them).  A missing
// plusarg, an unreadable input, an input with too few words, an unwritable
// output, a run that does not finish within its cycle budget, or (OVERFLOW = 2,
// policy error) an accumulator overflow is fatal (vvp exits 1).  Too many
// words only draws an Icarus warning: cosim.sh checks the word counts first.
`timescale 1ns / 1ps

module tb_mac_tile;
    // Defaults: the conv1 tile of the smoke golden set; cosim.sh overrides every one from the manifest.
    parameter integer M           = 64;  // output channels
    parameter integer TK          = 3;   // input channels in the chunk
    parameter integer K           = 5;   // kernel size
    parameter integer STRIDE      = 1;   // stride
    parameter integer IN_ROWS     = 19;  // padded patch rows
    parameter integer IN_COLS     = 36;  // padded patch cols
    parameter integer OUT_ROWS    = 15;  // output rows
    parameter integer OUT_COLS    = 32;  // output cols
    parameter integer RELU        = 1;   // ReLU on/off
    parameter integer ACC_BITS    = 40;  // accumulator width (refimpl default)
    parameter integer BIAS_BITS   = 16;  // bias word width, 16 or 32
    parameter integer ROUNDING    = 0;   // 0 half_up, 1 half_even, 2 truncate
    parameter integer OVERFLOW    = 0;   // 0 saturate, 1 wrap, 2 error
    parameter integer FIRST_CHUNK = 1;   // 1: bias; 0: psums in
    parameter integer LAST_CHUNK  = 1;   // 1: int16 outputs; 0: psums out

    localparam integer WORD_BITS  = 16;                     // int16 words (refimpl WORD_BITS)
    localparam integer SHIFT_BITS = 8;                      // as mac_tile
    localparam integer IN_WORDS   = TK * IN_ROWS * IN_COLS;
    localparam integer TAPS       = TK * K * K;
    localparam integer W_WORDS    = M * TAPS;
    localparam integer PIXELS     = OUT_ROWS * OUT_COLS;
    localparam integer OUT_WORDS  = M * PIXELS;
    localparam integer CYCLES     = PIXELS * (TAPS + 2);    // mac_tile: LOAD + TAPS MACs + OUT per pixel
    localparam integer PATH_CHARS = 4096;                   // longest plusarg path accepted
    localparam real    HALF_PERIOD = 5.0;                   // 100 MHz clock, 1 ns units (arbitrary)

    reg [WORD_BITS-1:0]  in_mem      [0:IN_WORDS-1];
    reg [WORD_BITS-1:0]  w_mem       [0:W_WORDS-1];
    reg [BIAS_BITS-1:0]  bias_mem    [0:M-1];
    reg [ACC_BITS-1:0]   psum_mem    [0:OUT_WORDS-1];
    reg [SHIFT_BITS-1:0] shift_mem   [0:M-1];
    reg [SHIFT_BITS-1:0] bshift_mem  [0:M-1];
    reg [WORD_BITS-1:0]  out_mem     [0:OUT_WORDS-1];
    reg [ACC_BITS-1:0]   psum_out    [0:OUT_WORDS-1];

    reg clk = 1'b0;
    reg rst = 1'b1;
    reg start = 1'b0;
    wire busy, done, out_valid;
    wire [31:0] ovf_count;
    // address widths as in mac_tile: ceil(log2(n)), at least 1 bit
    wire [$clog2(IN_WORDS > 1 ? IN_WORDS : 2)-1:0] in_addr;
    wire [$clog2(TAPS > 1 ? TAPS : 2)-1:0]         w_addr;
    wire [$clog2(PIXELS > 1 ? PIXELS : 2)-1:0]     out_addr, pix_addr;
    wire [M*WORD_BITS-1:0] w_data;
    wire [M*WORD_BITS-1:0] out_data;
    wire [M*ACC_BITS-1:0] psum_data;
    wire [M*BIAS_BITS-1:0] bias_data;
    wire [M*ACC_BITS-1:0] psum_in_data;
    wire [M*SHIFT_BITS-1:0] shift_data, bias_shift_data;
    wire signed [WORD_BITS-1:0] in_data = in_mem[in_addr];  // asynchronous read

    // Weight buffer as the array reads it: one word per tap (c, ky, kx) holding
    // the M lanes' weights, filled from w_mem ([m][tap] file order) after
    // loading; the psum-in buffer likewise, one word per pixel.  One wide read
    // per cycle: M narrow reads would each re-drive the whole bus (M^2 work
    // per cycle in the simulator).
    reg [M*WORD_BITS-1:0] w_wide [0:TAPS-1];
    assign w_data = w_wide[w_addr];                         // asynchronous read
    reg [M*ACC_BITS-1:0] psum_wide [0:PIXELS-1];
    assign psum_in_data = psum_wide[pix_addr];              // asynchronous read

    genvar g;
    generate
        for (g = 0; g < M; g = g + 1) begin : port
            assign bias_data[BIAS_BITS*g +: BIAS_BITS] = bias_mem[g];
            assign shift_data[SHIFT_BITS*g +: SHIFT_BITS] = shift_mem[g];
            assign bias_shift_data[SHIFT_BITS*g +: SHIFT_BITS] = bshift_mem[g];
        end
    endgenerate

    mac_tile #(
        .M(M), .TK(TK), .K(K), .STRIDE(STRIDE), .IN_ROWS(IN_ROWS), .IN_COLS(IN_COLS),
        .OUT_ROWS(OUT_ROWS), .OUT_COLS(OUT_COLS), .RELU(RELU), .ACC_BITS(ACC_BITS), .BIAS_BITS(BIAS_BITS),
        .ROUNDING(ROUNDING), .OVERFLOW(OVERFLOW), .FIRST_CHUNK(FIRST_CHUNK), .LAST_CHUNK(LAST_CHUNK)
    ) dut (
        .clk(clk), .rst(rst), .start(start), .busy(busy), .done(done),
        .in_addr(in_addr), .in_data(in_data), .w_addr(w_addr), .w_data(w_data),
        .bias_data(bias_data), .pix_addr(pix_addr), .psum_in_data(psum_in_data),
        .shift_data(shift_data), .bias_shift_data(bias_shift_data),
        .out_valid(out_valid), .out_addr(out_addr), .out_data(out_data), .psum_data(psum_data),
        .ovf_count(ovf_count)
    );

    always #(HALF_PERIOD) clk = ~clk;

    // output writer: one pixel of all M channels per out_valid, [m][oy][ox] order
    integer m;
    always @(posedge clk)
        if (out_valid)
            for (m = 0; m < M; m = m + 1) begin
                out_mem[m * PIXELS + out_addr] <= out_data[WORD_BITS*m +: WORD_BITS];
                psum_out[m * PIXELS + out_addr] <= psum_data[ACC_BITS*m +: ACC_BITS];
            end

    // ------------------------------------------------------------ file I/O
    reg [8*PATH_CHARS-1:0] in_path, w_path, init_path, shift_path, bshift_path, out_path, psum_path;

    // every word defined: catches an unreadable file or one with too few words
    // (Icarus only warns for both; a file with too many words also warns)
    task check_loaded(input [8*16-1:0] what, input integer undefined);
        if (undefined != 0)
            $fatal(1, "tb_mac_tile: %0s: %0d words not loaded (missing file or too few words)", what, undefined);
    endtask

    integer i, bad, cycles, fd;
    initial begin
        if (!$value$plusargs("INPUTS=%s", in_path)) $fatal(1, "tb_mac_tile: plusarg +INPUTS=<path> missing");
        if (!$value$plusargs("WEIGHTS=%s", w_path)) $fatal(1, "tb_mac_tile: plusarg +WEIGHTS=<path> missing");
        if (FIRST_CHUNK != 0) begin
            if (!$value$plusargs("BIAS=%s", init_path)) $fatal(1, "tb_mac_tile: plusarg +BIAS=<path> missing");
        end else if (!$value$plusargs("PSUMS_IN=%s", init_path))
            $fatal(1, "tb_mac_tile: plusarg +PSUMS_IN=<path> missing (FIRST_CHUNK=0)");
        if (!$value$plusargs("SHIFTS=%s", shift_path)) $fatal(1, "tb_mac_tile: plusarg +SHIFTS=<path> missing");
        if (!$value$plusargs("BIAS_SHIFTS=%s", bshift_path))
            $fatal(1, "tb_mac_tile: plusarg +BIAS_SHIFTS=<path> missing");
        if (!$value$plusargs("PSUMS=%s", psum_path)) $fatal(1, "tb_mac_tile: plusarg +PSUMS=<path> missing");
        fd = $fopen(psum_path, "w");                        // writable? ($writememh only prints an error)
        if (fd == 0) $fatal(1, "tb_mac_tile: cannot write %0s", psum_path);
        $fclose(fd);
        if (LAST_CHUNK != 0) begin
            if (!$value$plusargs("OUTPUTS=%s", out_path))
                $fatal(1, "tb_mac_tile: plusarg +OUTPUTS=<path> missing (LAST_CHUNK=1)");
            fd = $fopen(out_path, "w");
            if (fd == 0) $fatal(1, "tb_mac_tile: cannot write %0s", out_path);
            $fclose(fd);
        end
        $readmemh(in_path, in_mem);
        $readmemh(w_path, w_mem);
        $readmemh(shift_path, shift_mem);
        $readmemh(bshift_path, bshift_mem);
        bad = 0; for (i = 0; i < IN_WORDS; i = i + 1) bad = bad + (^in_mem[i] === 1'bx);
        check_loaded("inputs", bad);
        bad = 0; for (i = 0; i < W_WORDS; i = i + 1) bad = bad + (^w_mem[i] === 1'bx);
        check_loaded("weights", bad);
        bad = 0; for (i = 0; i < M; i = i + 1) bad = bad + (^shift_mem[i] === 1'bx) + (^bshift_mem[i] === 1'bx);
        check_loaded("shifts", bad);
        if (FIRST_CHUNK != 0) begin
            $readmemh(init_path, bias_mem);
            bad = 0; for (i = 0; i < M; i = i + 1) bad = bad + (^bias_mem[i] === 1'bx);
            check_loaded("bias", bad);
        end else begin
            $readmemh(init_path, psum_mem);
            bad = 0; for (i = 0; i < OUT_WORDS; i = i + 1) bad = bad + (^psum_mem[i] === 1'bx);
            check_loaded("psums in", bad);
            for (i = 0; i < OUT_WORDS; i = i + 1)
                psum_wide[i % PIXELS][ACC_BITS*(i / PIXELS) +: ACC_BITS] = psum_mem[i];
        end
        for (i = 0; i < W_WORDS; i = i + 1)
            w_wide[i % TAPS][WORD_BITS*(i / TAPS) +: WORD_BITS] = w_mem[i];

        repeat (2) @(posedge clk);
        rst <= 1'b0;
        @(posedge clk);
        start <= 1'b1;
        @(posedge clk);
        start <= 1'b0;
        cycles = 0;
        while (!done) begin
            @(posedge clk);
            cycles = cycles + 1;
            if (cycles > CYCLES + 2)                        // +2: start latency slack
                $fatal(1, "tb_mac_tile: no done after %0d cycles (expected %0d)", cycles, CYCLES);
        end
        @(negedge clk);                                     // the last out_valid write has landed
        bad = 0; for (i = 0; i < OUT_WORDS; i = i + 1) bad = bad + (^psum_out[i] === 1'bx);
        if (bad != 0)
            $fatal(1, "tb_mac_tile: %0d of %0d psums never written", bad, OUT_WORDS);
        $writememh(psum_path, psum_out);
        if (LAST_CHUNK != 0) begin
            bad = 0; for (i = 0; i < OUT_WORDS; i = i + 1) bad = bad + (^out_mem[i] === 1'bx);
            if (bad != 0)
                $fatal(1, "tb_mac_tile: %0d of %0d outputs never written", bad, OUT_WORDS);
            $writememh(out_path, out_mem);
        end
        $display("tb_mac_tile: %0d psums%0s (M=%0d x %0dx%0d), %0d taps each, %0d cycles, %0d accumulator overflows",
                 OUT_WORDS, (LAST_CHUNK != 0) ? " and outputs" : "", M, OUT_ROWS, OUT_COLS, TAPS, cycles, ovf_count);
        if (OVERFLOW == 2 && ovf_count != 0)
            $fatal(1, "tb_mac_tile: overflow policy error: %0d accumulator overflows", ovf_count);
        $finish;
    end
endmodule
