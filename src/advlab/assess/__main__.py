"""``python -m advlab.assess ...``: the assessment commands without the main CLI."""

import sys

from advlab.assess.cli import main

sys.exit(main())
