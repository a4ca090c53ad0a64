Console.Error.WriteLine("quicpipe: not written yet");
return 2;
