// tb_array.v -- testbench of array_ctrl.v + array_os.v: loads the per-pass
// golden streams of one output tile's input-channel chunks (refimpl golden
// --passes all), runs the chunks one after another (the psum carry between
// them stays inside the RTL), and dumps what the array wrote, under the golden
// files' relative paths, for `refimpl compare`:
//   per chunk c: the pass grid psums_end [P][ROWS][COLS] and the tile's psums
//   [M][NPIX]; on the last chunk also outputs, both as the pass grid and [M][NPIX].
//
// Parameters (iverilog -P tb_array.NAME=value; tools/rtl/cosim_array.py sets them
// from the manifest): ROWS, COLS, M, NPIX, KMAX (longest chunk), ACC_BITS, BIAS_BITS,
// ROUNDING, OVERFLOW, RELU, CHUNKS, LAST (1: the run's final chunk is the tile's
// last chunk, so it has outputs).  The run always starts at a first chunk.
// Plusargs (vvp ... +NAME=value):
//   +K<c>=steps            K of chunk c (tk*kh*kw)
//   +W<c>=, +X<c>=         chunk c's w_stream / x_stream hex: [P][K][ROWS] / [P][K][COLS] int16
//   +BIAS=, +BIAS_SHIFTS=, +SHIFTS=   M words each: bias (BIAS_BITS), signed 8-bit shifts
//   +PSUMS_END<c>=, +PSUMS<c>=        written: chunk c's pass-grid psums, tile psums
//   +PASS_OUTPUTS=, +OUTPUTS=         written (LAST = 1): the last chunk's outputs
// It prints one line per chunk, "tb_array: chunk C: P passes x K steps, T cycles", T
// counted from the edge that samples start to the edge that raises done.  A missing
// plusarg or file, too few words, or a run that never ends is fatal (exit 1).
// This excerpt is the README's testbench example of loading per-pass vectors.
`timescale 1ns / 1ps

module tb_array;
    parameter integer ROWS      = 12;
    parameter integer COLS      = 12;
    parameter integer M         = 64;    // defaults: the smoke set's conv1 tile 0
    parameter integer NPIX      = 480;
    parameter integer KMAX      = 75;
    parameter integer ACC_BITS  = 40;
    parameter integer BIAS_BITS = 16;
    parameter integer ROUNDING  = 0;
    parameter integer OVERFLOW  = 0;
    parameter integer RELU      = 1;
    parameter integer CHUNKS    = 1;
    parameter integer LAST      = 1;

    localparam integer NCB = (M + ROWS - 1) / ROWS;
    localparam integer NPB = (NPIX + COLS - 1) / COLS;
    localparam integer P = NCB * NPB;
    localparam integer SLOT = P * KMAX;                    // stream words reserved per chunk
    localparam integer GRID = P * ROWS * COLS;             // words of one pass-grid file
    localparam real    HALF_PERIOD = 5.0;

    // stream memories as the array reads them: one step of all rows (columns) a word
    reg [ROWS*16-1:0] w_wide [0:CHUNKS*SLOT-1];
    reg [COLS*16-1:0] x_wide [0:CHUNKS*SLOT-1];
    reg [15:0] w_file [0:SLOT*ROWS-1];                     // one chunk's file, one word a line
    reg [15:0] x_file [0:SLOT*COLS-1];
    reg [BIAS_BITS-1:0] bias_mem [0:NCB*ROWS-1];
    reg [7:0] bshift_mem [0:NCB*ROWS-1];
    reg [7:0] shift_mem [0:NCB*ROWS-1];
    reg [ACC_BITS-1:0] grid_psum [0:CHUNKS*GRID-1];
    reg [ACC_BITS-1:0] tile_psum [0:CHUNKS*M*NPIX-1];
    reg [15:0] grid_out [0:GRID-1];
    reg [15:0] tile_out [0:M*NPIX-1];

    reg clk = 1'b0, rst = 1'b1, start = 1'b0, first_chunk = 1'b1, last_chunk = 1'b1;
    reg [31:0] k_len = 1, s_base = 0;
    integer chunk = 0;
    wire busy, done, out_valid;
    wire [31:0] s_addr, pre_blk, out_blk, out_pass;
    wire [ROWS*COLS*ACC_BITS-1:0] out_psum;
    wire [ROWS*COLS*16-1:0] out_y;
    wire [ROWS*BIAS_BITS-1:0] bias_data;
    wire [ROWS*8-1:0] bias_shift_data, shift_data;
    genvar g;
    generate
        for (g = 0; g < ROWS; g = g + 1) begin : blk
            assign bias_data[BIAS_BITS*g +: BIAS_BITS] = bias_mem[pre_blk * ROWS + g];
            assign bias_shift_data[8*g +: 8] = bshift_mem[pre_blk * ROWS + g];
            assign shift_data[8*g +: 8] = shift_mem[out_blk * ROWS + g];
        end
    endgenerate

    array_ctrl #(.ROWS(ROWS), .COLS(COLS), .M(M), .NPIX(NPIX), .ACC_BITS(ACC_BITS), .BIAS_BITS(BIAS_BITS),
                 .ROUNDING(ROUNDING), .OVERFLOW(OVERFLOW), .RELU(RELU)) dut (
        .clk(clk), .rst(rst), .start(start), .first_chunk(first_chunk), .last_chunk(last_chunk),
        .k_len(k_len), .s_base(s_base), .busy(busy), .done(done),
        .s_addr(s_addr), .w_data(w_wide[s_addr]), .x_data(x_wide[s_addr]),
        .pre_blk(pre_blk), .bias_data(bias_data), .bias_shift_data(bias_shift_data),
        .out_blk(out_blk), .shift_data(shift_data),
        .out_valid(out_valid), .out_pass(out_pass), .out_psum(out_psum), .out_y(out_y));

    always #(HALF_PERIOD) clk = ~clk;

    // writer: one pass of ROWS x COLS MACs per out_valid; padded MACs are not written back
    integer r, j, ch, q;
    always @(posedge clk)
        if (out_valid)
            for (r = 0; r < ROWS; r = r + 1)
                for (j = 0; j < COLS; j = j + 1) begin
                    grid_psum[chunk*GRID + (out_pass*ROWS + r)*COLS + j] = out_psum[ACC_BITS*(r*COLS+j) +: ACC_BITS];
                    if (last_chunk) grid_out[(out_pass*ROWS + r)*COLS + j] = out_y[16*(r*COLS+j) +: 16];
                    ch = (out_pass / NPB) * ROWS + r;
                    q = (out_pass % NPB) * COLS + j;
                    if (ch < M && q < NPIX) begin
                        tile_psum[chunk*M*NPIX + ch*NPIX + q] = out_psum[ACC_BITS*(r*COLS+j) +: ACC_BITS];
                        if (last_chunk) tile_out[ch*NPIX + q] = out_y[16*(r*COLS+j) +: 16];
                    end
                end

    // ------------------------------------------------------------ file I/O
    string path, name;
    integer i, c, k, bad, cycles, klen, total;
    task need(input string what, output string value);
        if (!$value$plusargs({what, "=%s"}, value)) $fatal(1, "tb_array: plusarg +%0s=<path> missing", what);
    endtask
    task check_loaded(input string what, input integer undefined);
        if (undefined != 0)
            $fatal(1, "tb_array: %0s: %0d words not loaded (missing file or too few words)", what, undefined);
    endtask

    initial begin
        for (i = 0; i < NCB*ROWS; i = i + 1) begin bias_mem[i] = 0; bshift_mem[i] = 0; shift_mem[i] = 0; end
        need("BIAS", path);        $readmemh(path, bias_mem, 0, M - 1);
        need("BIAS_SHIFTS", path); $readmemh(path, bshift_mem, 0, M - 1);
        need("SHIFTS", path);      $readmemh(path, shift_mem, 0, M - 1);
        bad = 0;
        for (i = 0; i < M; i = i + 1) bad = bad + (^bias_mem[i] === 1'bx) + (^bshift_mem[i] === 1'bx) + (^shift_mem[i] === 1'bx);
        check_loaded("bias and shifts", bad);
        total = 0;
        repeat (2) @(posedge clk);
        rst <= 1'b0;
        for (c = 0; c < CHUNKS; c = c + 1) begin
            name = $sformatf("K%0d=%%d", c);
            if (!$value$plusargs(name, klen)) $fatal(1, "tb_array: plusarg +K%0d=<steps> missing", c);
            if (klen < 1 || klen > KMAX) $fatal(1, "tb_array: K%0d=%0d outside 1..KMAX=%0d", c, klen, KMAX);
            // the chunk's streams: [P][K][ROWS] and [P][K][COLS], packed one step a word
            for (i = 0; i < SLOT*ROWS; i = i + 1) w_file[i] = 16'bx;
            for (i = 0; i < SLOT*COLS; i = i + 1) x_file[i] = 16'bx;
            need($sformatf("W%0d", c), path); $readmemh(path, w_file, 0, P*klen*ROWS - 1);
            need($sformatf("X%0d", c), path); $readmemh(path, x_file, 0, P*klen*COLS - 1);
            bad = 0;
            for (i = 0; i < P*klen*ROWS; i = i + 1) bad = bad + (^w_file[i] === 1'bx);
            for (i = 0; i < P*klen*COLS; i = i + 1) bad = bad + (^x_file[i] === 1'bx);
            check_loaded($sformatf("chunk %0d streams", c), bad);
            for (k = 0; k < P*klen; k = k + 1) begin
                for (r = 0; r < ROWS; r = r + 1) w_wide[c*SLOT + k][16*r +: 16] = w_file[k*ROWS + r];
                for (j = 0; j < COLS; j = j + 1) x_wide[c*SLOT + k][16*j +: 16] = x_file[k*COLS + j];
            end
            // run the chunk: the edge that samples start is edge 0
            @(negedge clk);
            chunk = c;
            first_chunk = (c == 0);
            last_chunk = (c == CHUNKS - 1) && (LAST != 0);
            k_len = klen;
            s_base = c * SLOT;
            start = 1'b1;
            @(posedge clk); #1;
            start = 1'b0;
            cycles = 0;
            while (!done) begin
                @(posedge clk); #1;
                cycles = cycles + 1;
                if (cycles > P * (klen + ROWS + COLS) + 4 * (ROWS + COLS))
                    $fatal(1, "tb_array: chunk %0d: no done after %0d cycles", c, cycles);
            end
            @(posedge clk); #1;                                  // the last write has landed
            total = total + cycles;
            $display("tb_array: chunk %0d: %0d passes x %0d steps, %0d cycles", c, P, klen, cycles);
        end
        for (c = 0; c < CHUNKS; c = c + 1) begin
            need($sformatf("PSUMS_END%0d", c), path); $writememh(path, grid_psum, c*GRID, (c+1)*GRID - 1);
            need($sformatf("PSUMS%0d", c), path);     $writememh(path, tile_psum, c*M*NPIX, (c+1)*M*NPIX - 1);
        end
        if (LAST != 0) begin
            need("PASS_OUTPUTS", path); $writememh(path, grid_out);
            need("OUTPUTS", path);      $writememh(path, tile_out);
        end
        $display("tb_array: %0d chunks, %0d cycles", CHUNKS, total);
        $finish;
    end
endmodule
