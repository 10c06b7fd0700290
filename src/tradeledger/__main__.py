from tradeledger.cli import main

raise SystemExit(main())
