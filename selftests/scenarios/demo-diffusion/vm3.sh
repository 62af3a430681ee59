# VM 3: not traced (see ./trace): whatever it does must not show up.
echo "vm3: untraced, copying a file nobody watches"
echo "public" > /tmp/a.txt
cp /tmp/a.txt /tmp/b.txt
cat /tmp/b.txt
