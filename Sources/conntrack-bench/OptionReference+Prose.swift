// The prose of docs/options.md around the generated tables: what each
// subcommand is, and the rules no single declaration states.

extension OptionReference {
    static let header = #"""
        # Option reference
        
        Every option of every subcommand, generated from the parsers'
        declarations in `Sources/conntrack-bench/` by `conntrack-bench options`
        (a test keeps this file equal to its output; `--help` prints the same
        text). Each row's value and default are what its declaration and help
        state. `run` is the default subcommand, so `conntrack-bench --flows 1000`
        is `conntrack-bench run --flows 1000`. `--help` (`-h`) works everywhere and
        is not listed; so does `--version`, which prints the tool's version, the
        commit it was built from (when the build could know it: a git checkout)
        and the build configuration.
        
        Rules that hold for every subcommand:
        
        - A bad value gets one line on standard error naming the option, what is
          wrong and the allowed range, and exit code 2; nothing is written
          ([bad-input.md](bad-input.md)).
        - An option the chosen design does not support is refused (one line naming
          the option and the design, exit 2), never silently ignored. Which design
          takes which option: [the table at the end](#which-design-takes-which-table-option)
          and [designs.md](designs.md#the-designs).
        - A negative number may follow its option with a space (`--warmup -5`); it
          reaches the range check, which names it.
        - Seeds: the flow seed is `--seed` (default 1); a hash seed not given is
          drawn at random once per invocation, used for every run of it, and
          printed, so any run can be reproduced with `--hash-seed`.
        - `-` as an output file means standard output.
        """#

    /// Per subcommand: the text before its table and the text after it.
    static let prose: [String: (before: String, after: String)] = [
        "run": (
            #"""
            Pushes a scenario (or a capture) through the table with the reaper
            alongside, and reports ([running.md](running.md)). The options come in
            groups that `compare` shares: table (`--design` … `--inject`), reaper
            (`--policy` … `--no-fast-forward`), scenario (`--scenario` … `--seed`),
            driver (`--threads` … `--watchdog`), then saving and listing the table, then
            `run`'s own.
            """#,
            #"""
            `--save`, `--restore` and `--dump` work on a single run (not with
            `--repeats` or `--soak`); `--verdicts` and `--events` on a single run (not
            with `--repeats`); `--soak` runs once on a generated scenario (not
            with `--repeats` or `--pcap`) on the virtual clock with lock-step windows.
            """#),
        "generate": (
            #"""
            Writes a scenario's packets as a libpcap file (nanosecond timestamps,
            Ethernet) that tcpdump, Wireshark and `run --pcap` read.
            """#,
            #"""
            
            """#),
        "compare": (
            #"""
            Runs the same packet stream through every registered design and variant,
            interleaved, and prints their figures side by side
            ([running.md](running.md#comparing-designs)). It takes `run`'s table,
            reaper, scenario and driver options (see [run](#run) for ranges); each
            design gets the options it supports, and a design that cannot honour an
            option given is skipped, saying so. `seed2020` is the baseline, so an option
            the `buckets` design refuses (`--capacity`, `--lookup-batch`,
            `--ipv4-only`, `--inject skip-entry-lock`) makes `compare` refuse to run,
            and `--variant` is refused (`compare` runs every variant). A setting of a
            reaper policy is refused when no design compared runs that policy.
            """#,
            #"""
            
            """#),
        "sweep": (
            #"""
            Runs a grid of settings × worker counts on any design, writes `sweep.csv`,
            `sweep.json`, SVG plots and `recommendation.txt`, and prints the
            recommendation ([running.md](running.md#tuning-with-sweep)). The settings
            are the knobs the design and its reaper policy declare:
            
            | design or policy | knobs (default grid) |
            | --- | --- |
            | `buckets` | `buckets` (1024, 4096, 16384, 65536, 262144) |
            | `global-lock` | `buckets`: reaper slices (1024, 16384, 262144) |
            | `fast` | `buckets`: reaper slices (64, 1024, 16384); `lookup-batch` (1, 4, 16, 32) |
            | `null` | none |
            | `linux` | `buckets`: hash buckets, rounded up to a multiple of 512 (1024, 16384, 65536, 262144) |
            | `ovs` | `max-connections`: the limit, which also sizes the sweep (100000, 1000000, 3000000) |
            | `plugin:PATH` | `buckets` when it is sized by buckets (1024, 4096, 16384, 65536, 262144); each knob it declares (its minimum, default and maximum) ([plugins.md](plugins.md)) |
            | policy `seed` | `fraction` (16, 128, 1024); `max-expired-pct` (50) |
            | policy `linux2022` | `linux-buckets-per-pass` (256, 1024, 4096) |
            | policy `cilium` | `cilium-shrink-above-pct` (10, 25, 50); `cilium-grow-below-pct` (5) |
            | policy `ovs` | `ovs-sweep-ms` (1000, 5000, 20000); `ovs-pass-divisor` (16, 64, 256); `ovs-resume-ms` (50, 200, 1000) |
            
            With no `--vary`, every knob is varied over its default grid; with `--vary`,
            only the knobs named, the others at the options' values. Every other option
            of `run` (table, reaper, scenario, driver) applies to every point.
            """#,
            #"""
            
            """#),
        "workloads": (
            #"""
            `conntrack-bench workloads [NAME|FILE]`: without an argument, every
            built-in profile with its phases; with a profile's name, its YAML file as
            shipped (to copy and edit); with a file, the file checked and summarised,
            or one line naming the file, line and key that is wrong and exit 2
            ([workloads.md](workloads.md)). No options.
            """#,
            #"""
            
            """#),
        "diff": (
            #"""
            `conntrack-bench diff BASELINE.json CANDIDATE.json` compares two
            `run --json` reports (single runs or `--repeats`) counter by counter and
            figure by figure
            ([determinism.md](determinism.md#repeats-spread-and-regressions)). Exit 1
            when packets/s or p99 latency regressed by more than the threshold and the
            two min–max spreads do not overlap, else 0.
            """#,
            #"""
            
            """#),
        "metrics": (
            #"""
            `conntrack-bench metrics` prints the metric catalogue as Markdown
            ([metrics.md](metrics.md) is its output). It takes no options.
            """#,
            #"""
            
            """#),
        "dump": (
            #"""
            `conntrack-bench dump FILE` lists the connections of a table saved with
            `run --save` as `conntrack -L` does
            ([save-restore.md](save-restore.md#listing-connections)).
            """#,
            #"""
            
            """#),
        "selftest": (
            #"""
            `conntrack-bench selftest KIND` is a hidden subcommand (not in `--help`'s
            list) for the detectors' self-tests ([detectors.md](detectors.md)); each
            kind makes its event happen the same way every time:
            
            - `lock-order-pair`: one thread inserts with the `descending-lock-order`
              fault, then a second reaps that connection in ascending order, never at
              the same time, so a lock-order detector sees both orders and nothing can
              deadlock;
            - `data-race-pair`: two accesses the design's lock-skipping fault leaves
              unordered, made by two threads that nothing orders, so a race detector
              reports them whatever the schedule;
            - `second-signal`: the run's stop handlers are installed and SIGTERM is
              raised twice; the first asks to stop (printed), the second must end the
              process at once with exit 143.
            
            `--design` picks a design that declares the kind (`--list-designs` prints
            them; default: the first), or `plugin:PATH` for the example plugin with its
            fault in `CTB_EXAMPLE_FAULT`.
            """#,
            #"""
            
            """#),
    ]
}
