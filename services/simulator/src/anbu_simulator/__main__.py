from anbu_simulator.entrypoints.cli import main

raise SystemExit(main())
