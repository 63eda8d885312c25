import sys

from hydraflow.cli import main

sys.exit(main())
