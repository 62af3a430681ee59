# VM 2: the same kind of spread on another traced VM, through a FIFO.
echo "vm2: spreading through a named pipe"
mkdir -p /secret
echo "payroll 2026" > /secret/payroll.txt
mkfifo /tmp/fifo
cat /tmp/fifo > /tmp/received.txt &
cat /secret/payroll.txt > /tmp/fifo
wait
cat /tmp/received.txt
