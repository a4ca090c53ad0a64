Console.Error.WriteLine("quicpipe-loadgen: not written yet");
return 2;
