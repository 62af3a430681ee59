# Same exit storm as vm1.
. /scenario/vm1.sh
