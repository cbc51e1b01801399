// tb_mac_tile.v -- testbench for mac_tile.v: loads one golden tile's hex
// files, runs the tile, dumps the int16 outputs for `refimpl compare`.
//
// Parameters (iverilog -P tb_mac_tile.NAME=value): the tile geometry and
// numerics, same names as mac_tile, taken from the golden manifest's "params".
// Plusargs (vvp ... +NAME=path):
//   +INPUTS=   TK*IN_ROWS*IN_COLS int16 words, [c][row][col]   (4 hex digits a line)
//   +WEIGHTS=  M*TK*K*K int16 words, [m][c][ky][kx]
//   +BIAS=     M words of BIAS_BITS bits                       (4 or 8 hex digits a line)
//   +OUTPUTS=  written: M*OUT_ROWS*OUT_COLS int16 words, [m][oy][ox], $writememh
//              (the folder must exist; cosim.sh creates it)
// Input files may carry `//` comment lines ($readmemh skips them).  A missing
// plusarg, an unreadable input, an input with too few words, an unwritable
// output or a run that does not finish within its cycle budget is fatal
// (vvp exits 1).  Too many words only draws an Icarus warning: cosim.sh
// checks the word counts before simulating.
`timescale 1ns / 1ps

module tb_mac_tile;
    // Defaults: the conv1 tile of the golden-set manifest format example
    // (12 x 5x32 outputs, 3 x 5x5 taps); cosim.sh overrides every one from the manifest.
    parameter integer M          = 12;  // output channels
    parameter integer TK         = 3;   // input channels in the chunk
    parameter integer K          = 5;   // kernel size
    parameter integer STRIDE     = 1;   // stride
    parameter integer IN_ROWS    = 9;   // padded patch rows
    parameter integer IN_COLS    = 36;  // padded patch cols
    parameter integer OUT_ROWS   = 5;   // output rows
    parameter integer OUT_COLS   = 32;  // output cols
    parameter integer SHIFT      = 14;  // requantization shift
    parameter integer BIAS_SHIFT = 2;   // bias alignment shift
    parameter integer RELU       = 1;   // ReLU on/off
    parameter integer ACC_BITS   = 40;  // accumulator width (refimpl default)
    parameter integer BIAS_BITS  = 16;  // bias word width, 16 or 32

    localparam integer WORD_BITS = 16;                      // int16 words (refimpl WORD_BITS)
    localparam integer IN_WORDS  = TK * IN_ROWS * IN_COLS;
    localparam integer TAPS      = TK * K * K;
    localparam integer W_WORDS   = M * TAPS;
    localparam integer PIXELS    = OUT_ROWS * OUT_COLS;
    localparam integer OUT_WORDS = M * PIXELS;
    localparam integer CYCLES    = PIXELS * (TAPS + 2);     // mac_tile: LOAD + TAPS MACs + OUT per pixel
    localparam integer PATH_CHARS = 4096;                   // longest plusarg path accepted
    localparam real    HALF_PERIOD = 5.0;                   // 100 MHz clock, 1 ns units (arbitrary)

    reg [WORD_BITS-1:0] in_mem   [0:IN_WORDS-1];
    reg [WORD_BITS-1:0] w_mem    [0:W_WORDS-1];
    reg [BIAS_BITS-1:0] bias_mem [0:M-1];
    reg [WORD_BITS-1:0] out_mem  [0:OUT_WORDS-1];

    reg clk = 1'b0;
    reg rst = 1'b1;
    reg start = 1'b0;
    wire busy, done, out_valid;
    // address widths as in mac_tile: ceil(log2(n)), at least 1 bit
    wire [$clog2(IN_WORDS > 1 ? IN_WORDS : 2)-1:0] in_addr;
    wire [$clog2(TAPS > 1 ? TAPS : 2)-1:0]         w_addr;
    wire [$clog2(PIXELS > 1 ? PIXELS : 2)-1:0]     out_addr;
    wire [M*WORD_BITS-1:0] w_data, out_data;
    wire [M*BIAS_BITS-1:0] bias_data;
    wire signed [WORD_BITS-1:0] in_data = in_mem[in_addr];  // asynchronous read

    // Weight buffer as the array reads it: one word per tap (c, ky, kx) holding
    // the M lanes' weights, filled from w_mem ([m][tap] file order) after
    // loading.  One wide read per cycle: M narrow reads would each re-drive the
    // whole w_data bus (M^2 work per cycle in the simulator).
    reg [M*WORD_BITS-1:0] w_wide [0:TAPS-1];
    assign w_data = w_wide[w_addr];                         // asynchronous read

    genvar g;
    generate
        for (g = 0; g < M; g = g + 1) begin : port
            assign bias_data[BIAS_BITS*g +: BIAS_BITS] = bias_mem[g];
        end
    endgenerate

    mac_tile #(
        .M(M), .TK(TK), .K(K), .STRIDE(STRIDE), .IN_ROWS(IN_ROWS), .IN_COLS(IN_COLS),
        .OUT_ROWS(OUT_ROWS), .OUT_COLS(OUT_COLS), .SHIFT(SHIFT), .BIAS_SHIFT(BIAS_SHIFT),
        .RELU(RELU), .ACC_BITS(ACC_BITS), .BIAS_BITS(BIAS_BITS)
    ) dut (
        .clk(clk), .rst(rst), .start(start), .busy(busy), .done(done),
        .in_addr(in_addr), .in_data(in_data), .w_addr(w_addr), .w_data(w_data),
        .bias_data(bias_data), .out_valid(out_valid), .out_addr(out_addr), .out_data(out_data)
    );

    always #(HALF_PERIOD) clk = ~clk;

    // output writer: one pixel of all M channels per out_valid, [m][oy][ox] order
    integer m;
    always @(posedge clk)
        if (out_valid)
            for (m = 0; m < M; m = m + 1)
                out_mem[m * PIXELS + out_addr] <= out_data[WORD_BITS*m +: WORD_BITS];

    // ------------------------------------------------------------ file I/O
    reg [8*PATH_CHARS-1:0] in_path, w_path, bias_path, out_path;

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
        if (!$value$plusargs("BIAS=%s", bias_path)) $fatal(1, "tb_mac_tile: plusarg +BIAS=<path> missing");
        if (!$value$plusargs("OUTPUTS=%s", out_path)) $fatal(1, "tb_mac_tile: plusarg +OUTPUTS=<path> missing");
        fd = $fopen(out_path, "w");                         // writable? ($writememh only prints an error)
        if (fd == 0) $fatal(1, "tb_mac_tile: cannot write %0s", out_path);
        $fclose(fd);
        $readmemh(in_path, in_mem);
        $readmemh(w_path, w_mem);
        $readmemh(bias_path, bias_mem);
        bad = 0; for (i = 0; i < IN_WORDS; i = i + 1) bad = bad + (^in_mem[i] === 1'bx);
        check_loaded("inputs", bad);
        bad = 0; for (i = 0; i < W_WORDS; i = i + 1) bad = bad + (^w_mem[i] === 1'bx);
        check_loaded("weights", bad);
        bad = 0; for (i = 0; i < M; i = i + 1) bad = bad + (^bias_mem[i] === 1'bx);
        check_loaded("bias", bad);
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
        bad = 0; for (i = 0; i < OUT_WORDS; i = i + 1) bad = bad + (^out_mem[i] === 1'bx);
        if (bad != 0)
            $fatal(1, "tb_mac_tile: %0d of %0d outputs never written", bad, OUT_WORDS);
        $writememh(out_path, out_mem);
        $display("tb_mac_tile: %0d outputs (M=%0d x %0dx%0d), %0d taps each, %0d cycles -> %0s",
                 OUT_WORDS, M, OUT_ROWS, OUT_COLS, TAPS, cycles, out_path);
        $finish;
    end
endmodule
