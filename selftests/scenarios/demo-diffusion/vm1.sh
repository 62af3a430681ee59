# VM 1: a process reads a confidential file and spreads it: a copy, a
# child process, a pipe.
echo "vm1: creating /secret/plan.txt"
mkdir -p /secret /shared
echo "launch codes: 0000" > /secret/plan.txt
cp /secret/plan.txt /shared/copy.txt
sh -c 'cat /secret/plan.txt > /tmp/child-copy.txt'
cat /secret/plan.txt | tr a-z A-Z > /tmp/piped.txt
ls -l /shared /tmp
