from p2pchat.cli import main

raise SystemExit(main())
